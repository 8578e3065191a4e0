/**
 * The store optimiser (store-layout.md 7): identical files become hard links
 * to one pool copy, `<realStoreDir>/.links/<key>`, where the key is the Nix
 * base-32 SHA-256 of the file's NAR (so the executable bit and symlink
 * targets are part of it).
 *
 * - The inodes already in `.links` are loaded up front; directory entries with
 *   one of them are skipped without a stat. Files with more than one link are
 *   skipped too (already shared), and so are owner-writable regular files
 *   (Nix's "suspicious writable file").
 * - A new key: the file itself is linked into the pool (incrementally, path
 *   by path: an interrupted run keeps what it did).
 * - A known key: the pool copy is linked to `.tmp-link-<pid>-<random>` in the
 *   store directory and renamed over the file (atomic: the file is never
 *   missing). The directory is made writable at its first replacement and
 *   given back its canonical mode (0555) and mtime (1) once all its entries
 *   are done (Nix toggles it around every file).
 * - Too many links (EMLINK) skips the file; a pool entry whose size differs
 *   from the file is corrupt and removed; a pool entry or temporary link that
 *   a collector removed meanwhile makes the file start over.
 *
 * Each path is protected by a temporary root before it is touched and
 * skipped when it is no longer valid.
 */
import { type Stats, chmodSync, linkSync, lstatSync, renameSync, unlinkSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { SystemError } from "../errors.ts";
import type { LocalStore } from "./local-store.ts";
import { type DirEntry, fileNarHash, joinBytes, listDirectory, loadInodes } from "./optimise-files.ts";
import { SLICE_MS, yieldToEventLoop } from "./time-slices.ts";

export interface OptimiseStats {
  filesLinked: number;
  /** Sum of the sizes of the files replaced by links (Nix's "freed"). */
  bytesFreed: number;
  blocksFreed: number;
  pathsDone: number;
}

export interface OptimiseOptions {
  /** Messages Nix prints (warnings, "has maximum number of links"). */
  log?(message: string): void;
  /** After each path, and once before the first (Nix's progress: paths done of the valid paths). */
  onProgress?(stats: OptimiseStats, total: number): void;
  /** A path is about to be optimised ("optimising path '…'"); onPathEnd follows, even on failure. */
  onPathStart?(path: string): void;
  onPathEnd?(path: string): void;
  /** A file was replaced by a link to `linkPath` (Nix's "linking '…' to '…'" and resFileLinked). */
  onLinked?(path: string, linkPath: string, size: number, blocks: number): void;
  /** Called between paths; a daemon gives other clients a turn here (time-slices.ts). */
  pause?(): Promise<void>;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
/** A file is retried this often when a collector removes its pool entry under it. */
const MAX_ATTEMPTS = 3;

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

class Optimiser {
  readonly stats: OptimiseStats = { filesLinked: 0, bytesFreed: 0, blocksFreed: 0, pathsDone: 0 };
  private readonly linksDir: string;
  private readonly storeDirBytes: Buffer;

  constructor(
    private readonly realStoreDir: string,
    readonly inodes: Set<number>,
    private readonly log: (message: string) => void,
    private readonly onLinked?: OptimiseOptions["onLinked"],
  ) {
    this.linksDir = join(realStoreDir, ".links");
    this.storeDirBytes = Buffer.from(realStoreDir);
  }

  /** Optimises the tree at `path` (a store object or part of one). */
  optimiseTree(path: Buffer): void {
    const st = lstatSync(path);
    if ((st.mode & S_IFMT) === S_IFDIR) this.optimiseDirectory(path);
    else this.optimiseFile(path, st, undefined);
  }

  /** The directory is made writable once, at its first replacement, and made canonical again at the end. */
  private optimiseDirectory(path: Buffer): void {
    const dir: DirectoryState = { path, writable: false };
    try {
      for (const entry of listDirectory(path)) {
        if (this.inodes.has(entry.ino)) continue; // already in the pool
        const child = joinBytes(path, entry.name);
        const st = lstatSync(child);
        if ((st.mode & S_IFMT) === S_IFDIR) this.optimiseDirectory(child);
        else this.optimiseFile(child, st, dir);
      }
    } finally {
      if (dir.writable) {
        chmodSync(path, 0o555);
        utimesSync(path, new Date(), 1);
      }
    }
  }

  /** `dir` is the containing directory, undefined for a top-level object (in the store directory itself). */
  private optimiseFile(path: Buffer, st: Stats, dir: DirectoryState | undefined): void {
    const type = st.mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFLNK) return;
    if (type === S_IFREG && (st.mode & 0o200) !== 0) {
      this.log(`warning: skipping suspicious writable file '${path.toString()}'`);
      return;
    }
    if (st.nlink > 1) return; // already shared (with the pool or otherwise)
    const kind = type === S_IFLNK ? "symlink" : (st.mode & 0o100) !== 0 ? "executable" : "regular";
    const key = fileNarHash(path, kind, st.size);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (this.linkOnce(path, st, key, dir)) return;
    }
  }

  /** One attempt at linking `path` to the pool; false to start over (a collector raced us). */
  private linkOnce(path: Buffer, st: Stats, key: string, dir: DirectoryState | undefined): boolean {
    const linkPath = join(this.linksDir, key);
    // Linking first: a new key costs one call; EEXIST says the pool has it.
    try {
      linkSync(path, linkPath);
      this.inodes.add(st.ino);
      return true;
    } catch (error) {
      const code = errnoOf(error);
      if (code === "ENOSPC") {
        this.log(`cannot link '${linkPath}' to '${path.toString()}': No space left on device`);
        return true;
      }
      if (code !== "EEXIST") throw new SystemError(`cannot link '${linkPath}' to '${path.toString()}'`, error);
    }
    const pool = lstatOrUndefined(linkPath);
    if (!pool) return false;
    if (pool.size !== st.size) {
      this.log(`warning: removing corrupted link '${linkPath}'`);
      this.log("warning: There may be more corrupted paths.\nYou should run `nix-store --verify --check-contents --repair` to fix them all");
      try {
        unlinkSync(linkPath);
      } catch {
        // gone already
      }
      return false;
    }
    if (pool.ino === st.ino) return true;
    if (dir && !dir.writable) {
      chmodSync(dir.path, 0o755);
      dir.writable = true;
    }
    const tempLink = join(this.realStoreDir, `.tmp-link-${process.pid}-${Math.floor(Math.random() * 2 ** 31)}`);
    try {
      linkSync(linkPath, tempLink);
    } catch (error) {
      const code = errnoOf(error);
      if (code === "EMLINK") {
        if (st.size > 0) this.log(`'${linkPath}' has maximum number of links`);
        return true;
      }
      if (code === "ENOENT") return false; // the collector removed the pool entry
      throw new SystemError(`cannot link '${tempLink}' to '${linkPath}'`, error);
    }
    try {
      renameSync(tempLink, path);
    } catch (error) {
      try {
        unlinkSync(tempLink);
      } catch {
        // the collector may have removed it
      }
      const code = errnoOf(error);
      if (code === "EMLINK") return true;
      if (code === "ENOENT") return false; // our temporary link was collected
      throw new SystemError(`cannot rename '${tempLink}' to '${path.toString()}'`, error);
    }
    this.inodes.add(pool.ino);
    this.onLinked?.(path.toString(), linkPath, st.size, st.blocks);
    this.stats.filesLinked++;
    this.stats.bytesFreed += st.size;
    this.stats.blocksFreed += st.blocks;
    return true;
  }
}

interface DirectoryState {
  readonly path: Buffer;
  writable: boolean;
}

function lstatOrUndefined(path: string): { ino: number; size: number; nlink: number } | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * `nix-store --optimise`: every valid path in Nix's order (by base name),
 * each under a temporary root. Between paths, `pause` (or, without it, a
 * turn of the event loop now and then) lets a daemon's other clients in.
 */
export async function optimiseStore(store: LocalStore, options: OptimiseOptions = {}): Promise<OptimiseStats> {
  const log = options.log ?? (() => {});
  // The index on path is bytewise (BINARY collation): Nix's order of store paths.
  const paths = store.db.all<{ path: string }>("select path from ValidPaths order by path").map((r) => r.path);
  const optimiser = new Optimiser(store.realStoreDir, loadInodes(join(store.realStoreDir, ".links")), log, options.onLinked);
  const skip = store.storeDir.length + 1;
  const storeEntries = new Map<string, DirEntry>();
  for (const entry of listDirectory(Buffer.from(store.realStoreDir))) storeEntries.set(entry.name.toString("latin1"), entry);
  const pause = options.pause ?? yieldToEventLoop;
  let sliceStart = performance.now();
  options.onProgress?.(optimiser.stats, paths.length);
  for (const path of paths) {
    if (performance.now() - sliceStart >= SLICE_MS) {
      await pause();
      sliceStart = performance.now();
    }
    const baseName = path.slice(skip);
    const entry = storeEntries.get(Buffer.from(baseName).toString("latin1"));
    // Already in the pool (a file object): nothing to do, and no root needed.
    const pooled = entry !== undefined && optimiser.inodes.has(entry.ino);
    if (!pooled) {
      store.tempRoots.add(path);
      if (store.db.get("select 1 as one from ValidPaths where path = ?", path) === undefined) continue; // collected meanwhile
    }
    options.onPathStart?.(path);
    try {
      if (!pooled) optimiser.optimiseTree(joinBytes(Buffer.from(store.realStoreDir), Buffer.from(baseName)));
    } catch (error) {
      if (errnoOf(error) !== "ENOENT") throw error;
    } finally {
      options.onPathEnd?.(path);
    }
    optimiser.stats.pathsDone++;
    options.onProgress?.(optimiser.stats, paths.length);
  }
  return optimiser.stats;
}

/** auto-optimise-store: one newly added path (no pool inodes loaded, as in Nix). */
export function optimiseNewPath(store: LocalStore, realPath: string): OptimiseStats {
  const optimiser = new Optimiser(store.realStoreDir, new Set(), (message) => process.stderr.write(`${message}\n`));
  optimiser.optimiseTree(Buffer.from(realPath));
  return optimiser.stats;
}

export interface PoolStats {
  /** Entries in .links. */
  entries: number;
  /** Store files that are links to a pool entry. */
  linkedFiles: number;
  /** Bytes the linked files would take without sharing. */
  logicalBytes: number;
  /** Bytes they take (one copy each). */
  physicalBytes: number;
}

/** Deduplication now in effect, from the link counts of the `.links` entries. */
export function poolStats(store: LocalStore): PoolStats {
  const dir = join(store.realStoreDir, ".links");
  const stats: PoolStats = { entries: 0, linkedFiles: 0, logicalBytes: 0, physicalBytes: 0 };
  for (const entry of listDirectoryOrEmpty(dir)) {
    const st = lstatOrUndefined(join(dir, entry.name.toString("latin1")));
    if (!st) continue;
    const users = st.nlink - 1;
    stats.entries++;
    stats.linkedFiles += users;
    stats.logicalBytes += users * st.size;
    stats.physicalBytes += st.size;
  }
  return stats;
}

function listDirectoryOrEmpty(dir: string): DirEntry[] {
  try {
    return listDirectory(Buffer.from(dir));
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return [];
    throw error;
  }
}
