/**
 * `nix-store --export` (formats.md 5.1): the given paths (not their closure),
 * references before referrers, each as one record:
 *
 *   u64(1) NAR u64(0x4558494e "NIXE") str(path) u64(n) str(ref)* str(deriver|"") u64(0)
 *
 * and a final u64(0). NARs are streamed from disk (dumpPath), never held whole.
 *
 * Changed paths are refused, as Nix does, so that disk corruption does not
 * spread to other machines: each NAR is hashed while it is written, and when
 * its hash differs from the database's (unless that one is all zeros, i.e.
 * unknown) the export fails right after the NAR, before the record's
 * trailer. The consumer therefore never receives a complete record for a
 * changed path (an importer fails on the truncated stream), and every object
 * is read once rather than twice.
 */
import { createHasher } from "../hash/hasher.ts";
import { dumpPath } from "../nar/dump.ts";
import { encodeString, writeU64 } from "../nar/tokens.ts";
import { type StorePath, compareStorePaths } from "../store-path/store-path.ts";
import { sortReferencesFirst } from "./closure.ts";
import { StoreError } from "./errors.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";

/** The u64 after each record's NAR: the bytes "NIXE\0\0\0\0". */
export const EXPORT_MAGIC = 0x4558494e;

/** Receives the stream; each chunk is only valid during the call. */
export type ExportSink = (bytes: Uint8Array) => void;

export interface ExportOptions {
  /** Strip `~nix~case~hack~N` suffixes when serialising (default: the use-case-hack setting). */
  caseHack?: boolean;
  /** Called before each record is written. */
  onPath?: (path: StorePath, index: number, total: number) => void;
}

function u64(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  writeU64(bytes, 0, value);
  return bytes;
}

/** The given paths, duplicates removed, in export order (references first). */
export function exportOrder(infos: ReadonlyMap<string, PathInfo>): StorePath[] {
  const paths = [...infos.values()].map((info) => info.path);
  return sortReferencesFirst(paths, (path) => infos.get(path.baseName)?.references ?? []);
}

/** The bytes that follow a record's NAR. */
function trailer(store: LocalStore, info: PathInfo): Uint8Array {
  const parts = [u64(EXPORT_MAGIC), encodeString(store.print(info.path)), u64(info.references.length)];
  for (const ref of info.references) parts.push(encodeString(store.print(ref)));
  parts.push(encodeString(info.deriver ? store.print(info.deriver) : ""), u64(0));
  return Buffer.concat(parts);
}

function isAllZero(digest: Uint8Array): boolean {
  return digest.every((b) => b === 0);
}

/**
 * One record's NAR and trailer (without the leading u64(1)) as chunks, each
 * valid until the next is pulled; a path whose contents changed fails right
 * after its NAR. Pull-based, so that a consumer can wait for its peer.
 */
export function* exportRecordChunks(store: LocalStore, info: PathInfo, caseHack: boolean): Generator<Uint8Array, void, undefined> {
  const hasher = createHasher("sha256");
  for (const chunk of dumpPath(store.realPath(info.path), { caseHack })) {
    hasher.update(chunk);
    yield chunk;
  }
  const actual = hasher.finish();
  if (!actual.equals(info.narHash) && !isAllZero(info.narHash.digest)) {
    throw new StoreError(`hash of path '${store.print(info.path)}' has changed from '${info.narHash.toString()}' to '${actual.toString()}'!`);
  }
  yield trailer(store, info);
}

/** Writes one record's NAR and trailer, refusing a path whose contents changed. */
function exportRecord(store: LocalStore, info: PathInfo, write: ExportSink, caseHack: boolean): void {
  for (const chunk of exportRecordChunks(store, info, caseHack)) write(chunk);
}

/**
 * Writes the export stream of `paths` to `write`. Every path must be valid;
 * that is checked before the first byte is written.
 */
export function exportPaths(store: LocalStore, paths: readonly StorePath[], write: ExportSink, options: ExportOptions = {}): void {
  const infos = new Map<string, PathInfo>();
  for (const path of [...paths].sort(compareStorePaths)) if (!infos.has(path.baseName)) infos.set(path.baseName, store.requireInfo(path));
  const order = exportOrder(infos);
  const caseHack = options.caseHack ?? store.settings.bool("use-case-hack");
  for (const [index, path] of order.entries()) {
    options.onPath?.(path, index, order.length);
    write(u64(1));
    exportRecord(store, infos.get(path.baseName)!, write, caseHack);
  }
  write(u64(0));
}
