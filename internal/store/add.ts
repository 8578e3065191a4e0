/**
 * Adding objects to the store in one streaming pass: the source is read
 * once, and while it is written to the staging area it is hashed for the
 * store path (flat bytes or NAR, any algorithm), for the NAR hash (sha256),
 * and scanned for references when asked.
 */
import { closeSync, constants, futimesSync, lstatSync, openSync, writeSync } from "node:fs";
import { posix } from "node:path";
import { BunixError, SystemError } from "../errors.ts";
import type { HashAlgorithm } from "../hash/algorithm.ts";
import type { Hash } from "../hash/hash.ts";
import { createHasher } from "../hash/hasher.ts";
import { dumpPath } from "../nar/dump.ts";
import { hashPath } from "../nar/hash-path.ts";
import { CANONICAL_MTIME, restoreNar } from "../nar/restore.ts";
import { regularFileNarPrefix, regularFileNarSuffix } from "../nar/single-file.ts";
import { ChunkSource } from "../stream/byte-source.ts";
import { fdChunksOfFile } from "../stream/file-chunks.ts";
import { formatContentAddress } from "../store-path/content-address.ts";
import { type IngestionMethod, makeFixedOutputPath, makeTextPath } from "../store-path/make.ts";
import { ReferenceScanner } from "../store-path/reference-scanner.ts";
import { type StorePath, checkName } from "../store-path/store-path.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";
import { takeSmall } from "./small-add.ts";
import { type Staging, installDirect, installStaged, withStaging } from "./staging.ts";

export interface AddPathOptions {
  method: IngestionMethod;
  algorithm: HashAlgorithm;
  /** Store name; defaults to the source's base name. */
  name?: string | undefined;
}

export interface AddResult {
  path: StorePath;
  /** False when the path was already valid. */
  added: boolean;
}

/**
 * Writes a regular file from chunks (from a file or a socket), canonical
 * (0444/0555, mtime 1), feeding every chunk to `observe`; returns its size.
 */
export async function writeCanonicalFile(
  target: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  executable: boolean,
  observe: (chunk: Uint8Array) => void,
): Promise<number> {
  let fd: number;
  try {
    fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, executable ? 0o555 : 0o444);
  } catch (error) {
    throw new SystemError(`creating file '${target}'`, error);
  }
  let size = 0;
  try {
    for await (const chunk of chunks) {
      observe(chunk);
      try {
        for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at, chunk.length - at);
      } catch (error) {
        throw new SystemError(`writing file '${target}'`, error);
      }
      size += chunk.length;
    }
    futimesSync(fd, Math.floor(Date.now() / 1000), CANONICAL_MTIME);
  } finally {
    closeSync(fd);
  }
  return size;
}

/** `nix-store --add` / `--add-fixed`: a file or tree from the file system. */
export async function addPath(store: LocalStore, source: string, options: AddPathOptions): Promise<AddResult> {
  const name = checkName(options.name ?? posix.basename(posix.resolve(source)));
  let stat;
  try {
    stat = lstatSync(source);
  } catch (error) {
    throw new SystemError(`getting status of '${source}'`, error);
  }
  if (options.method === "flat" && !stat.isFile()) {
    throw new BunixError(`'${source}' is not a regular file: flat hashing needs one (drop --flat to add it recursively)`);
  }
  // Small sources (most adds) are read into memory once and written straight
  // to their path, as Nix does with small dumps; larger ones stream through staging.
  const executable = (stat.mode & 0o100) !== 0;
  const taken = await takeSmall(options.method === "flat" ? fdChunksOfFile(source) : dumpPath(source));
  const narHasher = createHasher("sha256");
  const caHasher = options.algorithm === "sha256" && options.method === "recursive" ? undefined : createHasher(options.algorithm);
  let narSize = 0;
  const observeNar = (bytes: Uint8Array) => {
    narHasher.update(bytes);
    narSize += bytes.length;
    if (options.method === "recursive") caHasher?.update(bytes);
  };
  const infoFor = (): PathInfo => {
    const narHash = narHasher.finish();
    const caHash = caHasher ? caHasher.finish() : narHash;
    return {
      path: makeFixedOutputPath(options.method, caHash, name, store.storeDir),
      narHash,
      narSize,
      references: [],
      deriver: undefined,
      registrationTime: 0,
      ultimate: false,
      signatures: [],
      ca: formatContentAddress({ method: options.method, hash: caHash }),
    };
  };
  const sizeChanged = () => new BunixError(`'${source}' changed size while it was being added`);

  if ("whole" in taken) {
    const data = taken.whole;
    let write: (real: string) => Promise<void>;
    if (options.method === "flat") {
      // As `nix-store --add-fixed`: the path hashes the bytes, but the object (and
      // its NAR) is the file as dumped, so an executable file stays executable.
      if (data.length !== stat.size) throw sizeChanged();
      for (const piece of [regularFileNarPrefix(data.length, executable), data, regularFileNarSuffix(data.length)]) observeNar(piece);
      caHasher!.update(data);
      write = async (real) => void (await writeCanonicalFile(real, [data], executable, () => {}));
    } else {
      observeNar(data);
      write = (real) => restoreNar(new ChunkSource([data]), real, { canonical: true, requireEnd: true });
    }
    const info = infoFor();
    return { path: info.path, added: await installDirect(store, info, write) };
  }

  return withStaging(store, async (staging) => {
    if (options.method === "flat") {
      const size = stat.size;
      observeNar(regularFileNarPrefix(size, executable));
      const written = await writeCanonicalFile(staging.objectPath, taken.replay, executable, (chunk) => {
        observeNar(chunk);
        caHasher!.update(chunk);
      });
      if (written !== size) throw sizeChanged();
      observeNar(regularFileNarSuffix(size));
    } else {
      const nar = new ChunkSource(taken.replay);
      nar.setTap(observeNar);
      await restoreNar(nar, staging.objectPath, { canonical: true, requireEnd: true });
    }
    const info = infoFor();
    return { path: info.path, added: await installStaged(store, staging, info) };
  });
}

export interface AddTextOptions {
  /** Exact references, or "scan" to find them among the valid paths. */
  references: readonly StorePath[] | "scan";
  /** Rewrite the object even if the path is valid already. */
  repair?: boolean;
}

/** A text object (`builtins.toFile`): sha256 of the contents, with references. */
export async function addText(
  store: LocalStore,
  name: string,
  contents: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: AddTextOptions,
): Promise<AddResult> {
  checkName(name);
  const candidates = options.references === "scan" ? store.queryAllValidPaths() : [];
  const infoOf = (hash: Hash, found: Set<string>, nar: { hash: Hash; narSize: number }): PathInfo => {
    const references = options.references === "scan" ? candidates.filter((p) => found.has(p.hashPart)) : [...options.references];
    return {
      path: makeTextPath(name, hash, references, store.storeDir),
      narHash: nar.hash,
      narSize: nar.narSize,
      references,
      deriver: undefined,
      registrationTime: 0,
      ultimate: false,
      signatures: [],
      ca: formatContentAddress({ method: "text", hash }),
    };
  };
  const taken = await takeSmall(contents);
  if ("whole" in taken) {
    // Small (a .drv, builtins.toFile): hashed in memory, written straight to its path.
    const data = taken.whole;
    const scanner = new ReferenceScanner(candidates.map((p) => p.hashPart));
    scanner.update(data);
    const contentHasher = createHasher("sha256");
    contentHasher.update(data);
    const narHasher = createHasher("sha256");
    const prefix = regularFileNarPrefix(data.length, false);
    const suffix = regularFileNarSuffix(data.length);
    for (const piece of [prefix, data, suffix]) narHasher.update(piece);
    const info = infoOf(contentHasher.finish(), scanner.found(), { hash: narHasher.finish(), narSize: prefix.length + data.length + suffix.length });
    const write = async (real: string) => void (await writeCanonicalFile(real, [data], false, () => {}));
    return { path: info.path, added: await installDirect(store, info, write, { repair: options.repair ?? false }) };
  }
  return withStaging(store, async (staging: Staging) => {
    const contentHasher = createHasher("sha256");
    const scanner = new ReferenceScanner(candidates.map((p) => p.hashPart));
    await writeCanonicalFile(staging.objectPath, taken.replay, false, (chunk) => {
      contentHasher.update(chunk);
      scanner.update(chunk);
    });
    // The NAR frame needs the size up front: hash the staged file rather than buffer the contents.
    const info = infoOf(contentHasher.finish(), scanner.found(), hashPath(staging.objectPath));
    return { path: info.path, added: await installStaged(store, staging, info, { repair: options.repair ?? false }) };
  });
}
