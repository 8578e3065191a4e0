/**
 * Reading the store directory for a database rebuild: which entries are
 * store objects, and for each object, in one pass over its NAR, the NAR
 * hash and size and the hash parts of other entries it mentions (formats.md
 * 6.6: anywhere in the NAR, file names and symlink targets included).
 *
 * Entries named like store paths that are really leftovers (lock files, build
 * chroots and `.check` copies, interrupted staging directories) are set aside
 * with the entries that are not store paths at all: none is registered.
 */
import { lstatSync, readdirSync, type Stats } from "node:fs";
import { join } from "node:path";
import { BunixError, SystemError, describeSystemError } from "../errors.ts";
import type { Hash } from "../hash/hash.ts";
import { createHasher, hashChunks } from "../hash/hasher.ts";
import { dumpPath } from "../nar/dump.ts";
import { fdChunksOfFile } from "../stream/file-chunks.ts";
import { ReferenceScanner } from "../store-path/reference-scanner.ts";
import { StorePath } from "../store-path/store-path.ts";

export interface ScannedObject {
  readonly path: StorePath;
  readonly narHash: Hash;
  readonly narSize: number;
  /** Hash parts of store entries found in the NAR (the object's own included when it refers to itself). */
  readonly found: ReadonlySet<string>;
  /** A regular file (not a directory or symlink) at the top. */
  readonly regularFile: boolean;
  readonly executable: boolean;
  /** sha256 of the file's bytes, for a regular file. */
  readonly flatSha256: Hash | undefined;
  /** Why the top-level entry does not look like a finished store object, if it does not. */
  readonly suspicious: string | undefined;
}

export interface SkippedEntry {
  readonly name: string;
  readonly reason: string;
}

export interface UnreadableEntry {
  readonly name: string;
  readonly error: string;
}

export interface StoreScan {
  /** By base name. */
  readonly objects: Map<string, ScannedObject>;
  /** Entries left alone: not store paths, or leftovers named like one. */
  readonly skipped: SkippedEntry[];
  /** Objects that could not be read in full (not registered). */
  readonly unreadable: UnreadableEntry[];
}

export interface ScanProgress {
  readonly done: number;
  readonly total: number;
  readonly name: string;
}

const STAGING = /-bunix-staging-\d+$/;

function parseName(name: string): StorePath | undefined {
  try {
    return StorePath.fromBaseName(name);
  } catch {
    return undefined;
  }
}

/** Why an entry named like a store path is not a store object, if it is not. */
function leftoverReason(name: string, st: Stats): string | undefined {
  const mode = st.mode & 0o7777;
  if (name.endsWith(".lock") && st.isFile() && st.size <= 1 && mode !== 0o444 && mode !== 0o555) return "a path lock file";
  if (name.endsWith(".chroot") && parseName(name.slice(0, -".chroot".length))) return "a build's sandbox root left behind";
  if (name.endsWith(".check") && parseName(name.slice(0, -".check".length))) return "a previous output kept by a build check";
  if (STAGING.test(name)) return "a staging directory of an interrupted bunix add";
  return undefined;
}

function suspicion(st: Stats): string | undefined {
  const mode = st.mode & 0o7777;
  if (!st.isSymbolicLink() && mode !== 0o444 && mode !== 0o555) return `its mode is ${mode.toString(8).padStart(4, "0")}, not 0444 or 0555`;
  if (Math.floor(st.mtimeMs / 1000) !== 1) return `its modification time is ${new Date(st.mtimeMs).toISOString()}, not 1970-01-01T00:00:01Z`;
  return undefined;
}

function hashObject(real: string, st: Stats, candidates: ReadonlySet<string>, caseHack: boolean): { narHash: Hash; narSize: number; found: Set<string> } {
  const hasher = createHasher("sha256");
  const scanner = new ReferenceScanner(candidates);
  let narSize = 0;
  // Most objects are small files: a 1 MiB NAR buffer for each would cost more than hashing them.
  const bufferSize = st.isDirectory() ? 1 << 20 : Math.min(Math.max(st.size + 4096, 64 << 10), 1 << 20);
  for (const chunk of dumpPath(real, { caseHack, bufferSize })) {
    hasher.update(chunk);
    scanner.update(chunk);
    narSize += chunk.length;
  }
  return { narHash: hasher.finish(), narSize, found: scanner.found() };
}

/** Lists the store directory and hashes every object in it. */
export function scanStore(realStoreDir: string, options: { caseHack: boolean; onProgress?: (progress: ScanProgress) => void }): StoreScan {
  let names: string[];
  try {
    names = readdirSync(realStoreDir).sort();
  } catch (error) {
    throw new SystemError(`reading the store directory '${realStoreDir}'`, error);
  }
  const skipped: SkippedEntry[] = [];
  const unreadable: UnreadableEntry[] = [];
  const candidates: Array<{ name: string; path: StorePath; st: Stats }> = [];
  for (const name of names) {
    const path = parseName(name);
    if (!path) {
      skipped.push({ name, reason: "not named like a store path" });
      continue;
    }
    let st: Stats;
    try {
      st = lstatSync(join(realStoreDir, name));
    } catch (error) {
      unreadable.push({ name, error: `getting status: ${describeSystemError(error)}` });
      continue;
    }
    const leftover = leftoverReason(name, st);
    if (leftover) skipped.push({ name, reason: leftover });
    else candidates.push({ name, path, st });
  }

  const hashParts = new Set(candidates.map((c) => c.path.hashPart));
  const objects = new Map<string, ScannedObject>();
  for (const [i, { name, path, st }] of candidates.entries()) {
    options.onProgress?.({ done: i, total: candidates.length, name });
    const real = join(realStoreDir, name);
    try {
      const { narHash, narSize, found } = hashObject(real, st, hashParts, options.caseHack);
      const flatSha256 = st.isFile() ? hashChunks("sha256", fdChunksOfFile(real)) : undefined;
      objects.set(name, {
        path,
        narHash,
        narSize,
        found,
        regularFile: st.isFile(),
        executable: st.isFile() && (st.mode & 0o100) !== 0,
        flatSha256,
        suspicious: suspicion(st),
      });
    } catch (error) {
      unreadable.push({ name, error: error instanceof BunixError ? error.message : describeSystemError(error) });
    }
  }
  return { objects, skipped, unreadable };
}
