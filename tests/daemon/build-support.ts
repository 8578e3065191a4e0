/**
 * Shared by the daemon build tests: derivations from build-drvs.nix
 * instantiated straight into a daemon's store, raw requests made with
 * WorkerClient and recorded as normalised transcripts, and the same
 * transcripts read from the captured vectors (tests/fixtures/worker), so
 * that bunix's daemon, Nix's daemon and the vectors can be compared line
 * for line. Normalised: store paths by name (any store directory),
 * activity ids counted from the first of the request, times as set or not.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type StderrMessage, WorkerClient } from "../../internal/daemon/client.ts";
import { ChunkSource } from "../../internal/stream/byte-source.ts";
import { WireReader } from "../../internal/wire/reader.ts";
import { Stderr } from "../../internal/wire/worker-protocol.ts";
import { readFields } from "../../internal/wire/worker-types.ts";
import type { WireWriter } from "../../internal/wire/writer.ts";
import { runOk } from "../helpers/nix.ts";
import type { TestDaemon } from "./support.ts";

export const DRVS = join(import.meta.dir, "build-drvs.nix");
const VECTORS = join(import.meta.dir, "../fixtures/worker");

/** nix-instantiate (real Nix, directly on the daemon's store) of attributes of build-drvs.nix: attr -> .drv path. */
export function instantiate(daemon: TestDaemon, attrs: readonly string[], args: Record<string, string> = {}): Map<string, string> {
  const argv = ["nix-instantiate", DRVS, ...Object.entries(args).flatMap(([k, v]) => ["--argstr", k, v]), ...attrs.flatMap((a) => ["-A", a])];
  const lines = runOk(argv, { env: daemon.localEnv() }).toString().trim().split("\n");
  return new Map(attrs.map((a, i) => [a, lines[i]!]));
}

/** Store paths by name, DrvOutput hashes hidden: comparable across stores. */
export function normalise(text: string): string {
  return text
    .replace(/\/[^\s"'\\]*\/[0-9a-df-np-sv-z]{32}-/g, "STORE/")
    .replace(/\b[0-9a-df-np-sv-z]{32}-/g, "HASH-")
    .replace(/sha256:[0-9a-f]{64}/g, "sha256:H");
}

/** Messages as lines: activity ids relative to the first one seen. */
export function describeMessages(messages: readonly StderrMessage[]): string[] {
  let base: bigint | undefined;
  const id = (value: bigint) => {
    base ??= value - 1n;
    return Number(value - base);
  };
  return messages.map((m) => {
    const shown = m.kind === "start" ? { ...m, id: id(m.id), parent: m.parent === 0n ? 0 : id(m.parent) } : m.kind === "stop" || m.kind === "result" ? { ...m, id: id(m.id) } : m;
    return normalise(JSON.stringify(shown, (_, v: unknown) => (typeof v === "bigint" ? Number(v) : v)));
  });
}

export interface Exchange {
  messages: StderrMessage[];
  /** The reply, read by the caller's reader; undefined after an error. */
  reply?: unknown;
  error?: { message: string; exitStatus: number };
}

export interface RequestOptions {
  version?: number;
  overrides?: ReadonlyArray<readonly [string, string]>;
  verbosity?: number;
}

/** One operation on a fresh connection: handshake, SetOptions, the request; messages and reply collected. */
export async function request(
  socket: string,
  op: number,
  write: (writer: WireWriter, minor: number) => void,
  read: (reader: WireReader, minor: number) => Promise<unknown>,
  options: RequestOptions = {},
): Promise<Exchange> {
  const client = await WorkerClient.connect(socket, options.version);
  try {
    await client.setOptions(options.overrides ?? [], options.verbosity ?? 3);
    try {
      const reader = await client.op(op, (w) => write(w, client.minor));
      return { messages: client.messages, reply: await read(reader, client.minor) };
    } catch (error) {
      const e = error as { message: string; exitStatus?: number };
      return { messages: client.messages, error: { message: e.message, exitStatus: e.exitStatus ?? 1 } };
    }
  } finally {
    client.close();
  }
}

/** What the daemon sent for one operation in a vector: its stderr messages, then the reply bytes (to read). */
export async function vectorExchange(name: string, opHeader: string, minor: number, read: (reader: WireReader) => Promise<unknown>): Promise<Exchange> {
  const txt = readFileSync(join(VECTORS, `${name}.txt`), "utf8").split("\n");
  const bytes = Buffer.from(readFileSync(join(VECTORS, `${name}.s2c.hex`), "utf8").replace(/\s/g, ""), "hex");
  const sections: Array<{ header: string; start?: number }> = [];
  for (const line of txt) {
    if (line.startsWith("--- ")) sections.push({ header: line });
    else if (line.startsWith("S->C ") && sections.length > 0 && sections.at(-1)!.start === undefined) sections.at(-1)!.start = Number.parseInt(line.slice(5, 11), 16);
  }
  const index = sections.findIndex((s) => s.header.startsWith(`--- ${opHeader} `));
  if (index < 0) throw new Error(`vector ${name} has no section '${opHeader}'`);
  const end = sections.slice(index + 1).find((s) => s.start !== undefined)?.start ?? bytes.length;
  const slice = bytes.subarray(sections[index]!.start!, end);
  const reader = new WireReader(new ChunkSource((async function* () { yield slice; })()));
  const { messages, error } = await decodeStderr(reader, minor);
  return error ? { messages, error } : { messages, reply: await read(reader) };
}

/** Stderr messages up to STDERR_LAST or STDERR_ERROR, as WorkerClient reads them. */
async function decodeStderr(reader: WireReader, minor: number): Promise<{ messages: StderrMessage[]; error?: Exchange["error"] }> {
  const messages: StderrMessage[] = [];
  for (;;) {
    const code = await reader.u64("a stderr code");
    if (code === Stderr.last) return { messages };
    if (code === Stderr.next) messages.push({ kind: "next", text: await reader.text("a line") });
    else if (code === Stderr.startActivity) {
      const id = await reader.u64Big("id");
      const level = await reader.u64("level");
      const type = await reader.u64("type");
      const text = await reader.text("text");
      const fields = await readFields(reader);
      messages.push({ kind: "start", id, level, type, text, fields, parent: await reader.u64Big("parent") });
    } else if (code === Stderr.stopActivity) messages.push({ kind: "stop", id: await reader.u64Big("id") });
    else if (code === Stderr.result) messages.push({ kind: "result", id: await reader.u64Big("id"), type: await reader.u64("type"), fields: await readFields(reader) });
    else if (code === Stderr.error) {
      if (minor >= 26) {
        await reader.text("type");
        await reader.u64("level");
        await reader.text("name");
        const message = await reader.text("message");
        await reader.u64("position");
        await reader.u64("traces");
        return { messages, error: { message, exitStatus: 1 } };
      }
      const message = await reader.text("message");
      return { messages, error: { message, exitStatus: await reader.u64("status") } };
    } else throw new Error(`unexpected stderr code 0x${code.toString(16)}`);
  }
}

/** A BuildResult as a comparable line (times as set or not). */
export function describeResult(path: string, r: { status: number; errorMsg: string; timesBuilt: number; isNonDeterministic: boolean; startTime: number; stopTime: number; builtOutputs: ReadonlyMap<string, string> }): string {
  const times = `start=${r.startTime > 0} stop=${r.stopTime > 0}`;
  return normalise(`${path} status=${r.status} built=${r.timesBuilt} nd=${r.isNonDeterministic} ${times} ${JSON.stringify(r.errorMsg)} ${JSON.stringify([...r.builtOutputs])}`);
}
