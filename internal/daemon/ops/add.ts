/**
 * Putting data into the store (worker-protocol.md 6.2): AddToStore (both
 * forms), AddTextToStore, AddToStoreNar (framed, pulled, inline),
 * AddMultipleToStore and AddSignatures. Every NAR is restored into staging
 * straight from the socket while it is hashed; registrations go through the
 * daemon's write queue. Untrusted clients cannot skip signature checks nor
 * mark paths ultimate (7.3).
 */
import { BunixError } from "../../errors.ts";
import { type HashAlgorithm, parseHashAlgorithm } from "../../hash/algorithm.ts";
import { parseHash } from "../../hash/hash.ts";
import { validateNar } from "../../nar/reader.ts";
import { addText } from "../../store/add.ts";
import { addFlatContents, addFlatFromNar, addRecursiveNar } from "../../store/add-dump.ts";
import { type AddNarOptions, addNar } from "../../store/add-nar.ts";
import type { LocalStore } from "../../store/local-store.ts";
import type { PathInfo } from "../../store/path-info.ts";
import { addSignatures } from "../../store/signatures.ts";
import type { ByteSource } from "../../stream/byte-source.ts";
import { type StorePath, compareBytewise, compareStorePaths } from "../../store-path/store-path.ts";
import { WireReader } from "../../wire/reader.ts";
import { type WirePathInfo, readPathInfo, writePathInfo } from "../../wire/worker-types.ts";
import type { Connection, OpHandler } from "../connection.ts";
import { toWirePathInfo } from "./path-info.ts";
import { framedUpload, inlineNar, tunnelSource } from "./uploads.ts";

/** The pieces a framed payload is handed on in, for the file writers. */
const PIECE = 1 << 20;

/** The rest of a byte source as chunks (each valid until the next). */
async function* restOf(source: ByteSource): AsyncGenerator<Uint8Array> {
  while (!(await source.atEnd())) yield await source.readSome(PIECE);
}

/** Discards the rest of a payload (a NAR that is not needed). */
async function discard(source: ByteSource): Promise<void> {
  while (!(await source.atEnd())) await source.readSome(PIECE);
}

/** A ValidPathInfo as received, given meaning; `trusted` decides whether `ultimate` is kept. */
export function pathInfoFromWire(store: LocalStore, path: StorePath, wire: WirePathInfo, trusted: boolean): PathInfo {
  return {
    path,
    deriver: wire.deriver === "" ? undefined : store.parse(wire.deriver),
    narHash: parseHash(wire.narHash, "sha256"),
    references: [...new Map(wire.references.map((r) => store.parse(r)).map((p) => [p.baseName, p])).values()].sort(compareStorePaths),
    registrationTime: wire.registrationTime,
    narSize: wire.narSize,
    ultimate: trusted && wire.ultimate,
    signatures: [...new Set(wire.sigs)].sort(compareBytewise),
    ca: wire.ca === "" ? undefined : wire.ca,
  };
}

/** `text:sha256`, `fixed:<algo>`, `fixed:r:<algo>` (2.8). */
function parseMethod(camStr: string): { method: "text" | "flat" | "recursive"; algorithm: HashAlgorithm } {
  if (camStr === "text:sha256") return { method: "text", algorithm: "sha256" };
  if (camStr.startsWith("fixed:r:")) return { method: "recursive", algorithm: parseHashAlgorithm(camStr.slice(8)) };
  if (camStr.startsWith("fixed:")) return { method: "flat", algorithm: parseHashAlgorithm(camStr.slice(6)) };
  throw new BunixError(`content address method '${camStr}' is not 'text:sha256', 'fixed:<algo>' or 'fixed:r:<algo>'`);
}

/** AddToStore >= 1.25: the store computes the path; the reply is its full info. */
async function addToStoreFramed(c: Connection): Promise<void> {
  const name = await c.reader.latin1("the name");
  const camStr = await c.reader.latin1("the content-address method");
  const references = await c.readPaths("references");
  const repair = await c.reader.bool("the repair flag");
  c.logger.startWork();
  const path = await framedUpload(c, `the data of '${name}'`, async (payload) => {
    const { method, algorithm } = parseMethod(camStr);
    if (method === "text") return (await addText(c.store, name, restOf(payload), { references, repair })).path;
    if (method === "flat") return (await addFlatContents(c.store, name, algorithm, restOf(payload), { references, repair })).path;
    return (await addRecursiveNar(c.store, name, algorithm, payload, { references, repair, requireEnd: true })).path;
  });
  const info = c.store.requireInfo(path);
  c.logger.finishWork();
  c.out.writer.latin1(c.store.print(path));
  writePathInfo(c.out.writer, toWirePathInfo(c.store, info), c.minor);
}

/** AddToStore < 1.25: no references; a NAR inline (for flat, of the one file); the reply is the path. */
async function addToStoreOld(c: Connection): Promise<void> {
  const name = await c.reader.latin1("the name");
  const fixed = await c.reader.bool("the fixed flag");
  const recursiveFlag = await c.reader.u64("the recursive flag");
  const algorithmText = await c.reader.latin1("the hash algorithm");
  if (recursiveFlag > 1) throw new BunixError(`unsupported file ingestion method ${recursiveFlag}`);
  // The compatibility hack of the old protocol: "not fixed" means recursive SHA-256.
  const recursive = !fixed || recursiveFlag === 1;
  const algorithm = fixed ? parseHashAlgorithm(algorithmText) : "sha256";
  c.logger.startWork();
  const path = await inlineNar(c, async (nar, markRead) => {
    const options = { onNarRead: markRead };
    const added = recursive ? await addRecursiveNar(c.store, name, algorithm, nar, options) : await addFlatFromNar(c.store, name, algorithm, nar, options);
    return added.path;
  });
  c.logger.finishWork();
  c.out.writer.latin1(c.store.print(path));
}

const addToStore: OpHandler = (c) => (c.minor >= 25 ? addToStoreFramed(c) : addToStoreOld(c));

const addTextToStore: OpHandler = async (c) => {
  const name = await c.reader.latin1("the name");
  const text = await c.reader.bytes("the text");
  const references = await c.readPaths("references");
  const result = await c.work(() => addText(c.store, name, [text], { references }));
  c.out.writer.latin1(c.store.print(result.path));
};

const addToStoreNar: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const wire: WirePathInfo = {
    deriver: await c.reader.latin1("the deriver"),
    narHash: await c.reader.latin1("the NAR hash"),
    references: await c.reader.latin1List("references"),
    registrationTime: await c.reader.u64("the registration time"),
    narSize: await c.reader.u64("the NAR size"),
    ultimate: await c.reader.bool("the ultimate flag"),
    sigs: await c.reader.latin1List("signatures"),
    ca: await c.reader.latin1("the content address"),
  };
  const repair = await c.reader.bool("the repair flag");
  const dontCheckSigs = await c.reader.bool("the dontCheckSigs flag");
  const info = pathInfoFromWire(c.store, path, wire, c.trusted);
  const options: AddNarOptions = { repair, checkSigs: !(c.trusted && dontCheckSigs) };
  c.logger.startWork();
  if (c.minor >= 23) {
    await framedUpload(c, `the NAR of '${c.store.print(path)}'`, async (payload) => {
      if ((await addNar(c.store, info, payload, { ...options, requireEnd: true })) === "already-valid") await discard(payload);
    });
  } else if (c.minor >= 21) {
    await addNar(c.store, info, tunnelSource(c), options);
  } else {
    await inlineNar(c, (nar, markRead) => addNar(c.store, info, nar, { ...options, onNarRead: markRead }));
  }
  c.logger.finishWork();
};

const addMultipleToStore: OpHandler = async (c) => {
  const repair = await c.reader.bool("the repair flag");
  const dontCheckSigs = await c.reader.bool("the dontCheckSigs flag");
  const options: AddNarOptions = { repair, checkSigs: !(c.trusted && dontCheckSigs) };
  c.logger.startWork();
  await framedUpload(c, "the AddMultipleToStore data", async (payload) => {
    const reader = new WireReader(payload);
    const count = await reader.count("paths");
    for (let i = 0; i < count; i++) {
      const path = c.store.parse(await reader.latin1("a path"));
      // Every info is taken as not ultimate, whoever sends it.
      const info = pathInfoFromWire(c.store, path, await readPathInfo(reader, 16), false);
      if ((await addNar(c.store, info, payload, options)) === "already-valid") await validateNar(payload);
    }
  });
  c.logger.finishWork();
};

const addSignaturesOp: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const signatures = await c.reader.latin1List("signatures");
  await c.work(async () => {
    c.requireTrusted("you are not privileged to add signatures");
    await addSignatures(c.store, path, signatures);
  });
  c.out.writer.u64(1);
};

export const addOps = {
  AddToStore: addToStore,
  AddTextToStore: addTextToStore,
  AddToStoreNar: addToStoreNar,
  AddMultipleToStore: addMultipleToStore,
  AddSignatures: addSignaturesOp,
} satisfies Partial<Record<string, OpHandler>>;
