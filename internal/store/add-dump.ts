/**
 * Content-addressed adds from a stream whose path the store computes
 * (Nix's addToStoreFromDump: the daemon's AddToStore). The data is written
 * into staging while it is hashed; nothing holds it whole:
 *
 * - flat: the bytes are the file's contents (hashed with the chosen
 *   algorithm); the NAR hash comes from the staged file afterwards, since
 *   the NAR's frame needs the size first;
 * - recursive: the bytes are a NAR, restored while it is hashed with SHA-256
 *   (the NAR hash) and, when another algorithm was chosen, with that too;
 * - flat from a NAR (the pre-1.25 AddToStore): the NAR of one regular file
 *   whose contents are taken out.
 *
 * Small data (small-add.ts) is taken into memory and written straight to
 * its path instead.
 */
import { BunixError } from "../errors.ts";
import type { HashAlgorithm } from "../hash/algorithm.ts";
import type { Hash } from "../hash/hash.ts";
import { createHasher } from "../hash/hasher.ts";
import { hashPath } from "../nar/hash-path.ts";
import { NarReader } from "../nar/reader.ts";
import { restoreNar } from "../nar/restore.ts";
import type { ByteSource } from "../stream/byte-source.ts";
import { formatContentAddress } from "../store-path/content-address.ts";
import { makeFixedOutputPath } from "../store-path/make.ts";
import { type StorePath, checkName, compareStorePaths } from "../store-path/store-path.ts";
import { type AddResult, writeCanonicalFile } from "./add.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";
import { regularFileNarPrefix, regularFileNarSuffix } from "../nar/single-file.ts";
import { bytesSource } from "../stream/byte-source.ts";
import { takeSmall, takeSmallSource } from "./small-add.ts";
import { type Staging, installDirect, installStaged, withStaging } from "./staging.ts";

export interface DumpOptions {
  repair?: boolean;
  /** References (recursive sha256 only). */
  references?: readonly StorePath[];
  /** Called once the last byte of a NAR source has been read. */
  onNarRead?: () => void;
  /** A NAR source holds the NAR alone: anything after it is an error. */
  requireEnd?: boolean;
}

function fixedInfo(store: LocalStore, method: "flat" | "recursive", caHash: Hash, name: string, nar: { hash: Hash; size: number }, references: readonly StorePath[]): PathInfo {
  const path = makeFixedOutputPath(method, caHash, name, store.storeDir, references);
  return {
    path,
    narHash: nar.hash,
    narSize: nar.size,
    references: [...references].sort(compareStorePaths),
    deriver: undefined,
    registrationTime: 0,
    ultimate: false,
    signatures: [],
    ca: formatContentAddress({ method, hash: caHash }),
  };
}

async function installFlat(store: LocalStore, staging: Staging, name: string, caHash: Hash, options: DumpOptions): Promise<AddResult> {
  if ((options.references ?? []).length > 0) throw new BunixError(`a flat content-addressed path ('${name}') cannot have references`);
  const nar = hashPath(staging.objectPath);
  const info = fixedInfo(store, "flat", caHash, name, { hash: nar.hash, size: nar.narSize }, []);
  return { path: info.path, added: await installStaged(store, staging, info, { repair: options.repair ?? false }) };
}

/** Flat: `contents` are the file's bytes. */
export async function addFlatContents(
  store: LocalStore,
  name: string,
  algorithm: HashAlgorithm,
  contents: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: DumpOptions = {},
): Promise<AddResult> {
  checkName(name);
  if ((options.references ?? []).length > 0) throw new BunixError(`a flat content-addressed path ('${name}') cannot have references`);
  const taken = await takeSmall(contents);
  if ("whole" in taken) {
    const data = taken.whole;
    const narHasher = createHasher("sha256");
    const prefix = regularFileNarPrefix(data.length, false);
    const suffix = regularFileNarSuffix(data.length);
    for (const piece of [prefix, data, suffix]) narHasher.update(piece);
    const caHasher = createHasher(algorithm);
    caHasher.update(data);
    const narSize = prefix.length + data.length + suffix.length;
    const info = fixedInfo(store, "flat", caHasher.finish(), name, { hash: narHasher.finish(), size: narSize }, []);
    const write = async (real: string) => void (await writeCanonicalFile(real, [data], false, () => {}));
    return { path: info.path, added: await installDirect(store, info, write, { repair: options.repair ?? false }) };
  }
  return withStaging(store, async (staging) => {
    const hasher = createHasher(algorithm);
    await writeCanonicalFile(staging.objectPath, taken.replay, false, (chunk) => hasher.update(chunk));
    return installFlat(store, staging, name, hasher.finish(), options);
  });
}

/** Flat, sent as the NAR of one regular file (the old AddToStore): the contents are taken out. */
export async function addFlatFromNar(store: LocalStore, name: string, algorithm: HashAlgorithm, nar: ByteSource, options: DumpOptions = {}): Promise<AddResult> {
  checkName(name);
  return withStaging(store, async (staging) => {
    const hasher = createHasher(algorithm);
    let seen = false;
    for await (const entry of new NarReader(nar)) {
      if (entry.type !== "regular" || seen) throw new BunixError(`the NAR for flat path '${name}' must hold a single regular file`);
      seen = true;
      // The object is a plain (non-executable) file, as Nix writes it.
      await writeCanonicalFile(staging.objectPath, entry.contents(), false, (chunk) => hasher.update(chunk));
    }
    options.onNarRead?.();
    return installFlat(store, staging, name, hasher.finish(), options);
  });
}

/** Recursive: `nar` is the object's NAR, hashed with `algorithm` for the path. */
export async function addRecursiveNar(store: LocalStore, name: string, algorithm: HashAlgorithm, nar: ByteSource, options: DumpOptions = {}): Promise<AddResult> {
  checkName(name);
  const references = options.references ?? [];
  const caseHack = store.settings.bool("use-case-hack");
  if (options.requireEnd) {
    // A payload that ends with the NAR (framed): small ones are written straight to their path.
    const taken = await takeSmallSource(nar);
    if ("whole" in taken) {
      options.onNarRead?.();
      const narHasher = createHasher("sha256");
      narHasher.update(taken.whole);
      const narHash = narHasher.finish();
      let caHash = narHash;
      if (algorithm !== "sha256") {
        const caHasher = createHasher(algorithm);
        caHasher.update(taken.whole);
        caHash = caHasher.finish();
      }
      const info = fixedInfo(store, "recursive", caHash, name, { hash: narHash, size: taken.whole.length }, references);
      const write = (real: string) => restoreNar(bytesSource(taken.whole), real, { canonical: true, caseHack, requireEnd: true });
      return { path: info.path, added: await installDirect(store, info, write, { repair: options.repair ?? false }) };
    }
    nar = taken.replay;
  }
  return withStaging(store, async (staging) => {
    const narHasher = createHasher("sha256");
    const caHasher = algorithm === "sha256" ? undefined : createHasher(algorithm);
    let size = 0;
    nar.setTap((bytes) => {
      narHasher.update(bytes);
      caHasher?.update(bytes);
      size += bytes.length;
    });
    try {
      await restoreNar(nar, staging.objectPath, { canonical: true, caseHack, requireEnd: options.requireEnd ?? false });
    } finally {
      nar.setTap(undefined);
    }
    options.onNarRead?.();
    const narHash = narHasher.finish();
    const caHash = caHasher ? caHasher.finish() : narHash;
    const info = fixedInfo(store, "recursive", caHash, name, { hash: narHash, size }, references);
    return { path: info.path, added: await installStaged(store, staging, info, { repair: options.repair ?? false }) };
  });
}
