/**
 * Restores a NAR to disk (formats.md 3.5): directories with mkdir 0777,
 * files with O_CREAT|O_EXCL 0666 (+0111 when executable), symlinks verbatim,
 * all subject to the umask. With `canonical`, objects come out as the store
 * wants them (formats.md 6.7) without a second walk: files 0444/0555,
 * directories 0555 once complete, every mtime 1.
 *
 * Safety: the target must not exist; names were validated by the reader (no
 * '/', '.', '..', NUL), every parent is a directory this restore created, and
 * nothing is opened through a symlink (O_EXCL|O_NOFOLLOW), so no byte lands
 * outside the target. On any error the partial target is removed.
 */
import { chmodSync, closeSync, constants, futimesSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeSync } from "node:fs";
import { rm } from "node:fs/promises";
import { SystemError } from "../errors.ts";
import type { ByteSource } from "../stream/byte-source.ts";
import { type NarEntry, NarReader, expectEndOfNar, narPathText } from "./reader.ts";
import { CASE_HACK_SUFFIX, NarError } from "./tokens.ts";

export interface RestoreOptions {
  /** Rename names that collide case-insensitively (use-case-hack). */
  caseHack?: boolean;
  /** Require the source to end right after the NAR (a whole file or stdin). */
  requireEnd?: boolean;
  /** Give everything the store's canonical modes and mtime 1. */
  canonical?: boolean;
}

/** The mtime of every canonical store object: 1970-01-01T00:00:01Z. */
export const CANONICAL_MTIME = 1;

const SLASH = Buffer.from("/");

/** A directory of the branch being restored. */
interface OpenDirectory {
  readonly narPath: Uint8Array;
  readonly diskPath: Buffer;
  /** Lower-cased name -> collisions seen so far (case hack). */
  readonly seen: Map<string, number>;
}

function parentOf(path: Uint8Array): Uint8Array {
  const slash = path.lastIndexOf(0x2f);
  return slash < 0 ? new Uint8Array(0) : path.subarray(0, slash);
}

function nameOf(path: Uint8Array): Uint8Array {
  return path.subarray(path.lastIndexOf(0x2f) + 1);
}

function asciiLower(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 32 : b);
  return out;
}

function text(path: Uint8Array): string {
  return narPathText(path);
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Maps NAR paths to disk paths. Entries arrive in pre-order, so when an entry
 * arrives, every open directory that is not its parent is complete.
 */
class DiskPaths {
  private readonly open: OpenDirectory[] = [];
  constructor(
    private readonly target: Buffer,
    private readonly caseHack: boolean,
    private readonly onComplete: (diskPath: Buffer) => void,
  ) {}

  place(entry: NarEntry): Buffer {
    if (entry.path.length === 0) {
      if (entry.type === "directory") this.open.push({ narPath: entry.path, diskPath: this.target, seen: new Map() });
      return this.target;
    }
    const parent = parentOf(entry.path);
    while (this.open.length > 0 && Buffer.compare(this.open[this.open.length - 1]!.narPath, parent) !== 0) {
      this.onComplete(this.open.pop()!.diskPath);
    }
    const dir = this.open[this.open.length - 1];
    if (dir === undefined) throw new Error(`NAR entry '${text(entry.path)}' has no open parent`);
    let name: Uint8Array = nameOf(entry.path);
    if (this.caseHack) {
      const key = asciiLower(name);
      const count = dir.seen.get(key);
      if (count === undefined) dir.seen.set(key, 0);
      else {
        dir.seen.set(key, count + 1);
        name = Buffer.concat([name, Buffer.from(`${CASE_HACK_SUFFIX}${count + 1}`)]);
      }
    }
    const diskPath = Buffer.concat([dir.diskPath, SLASH, name]);
    if (entry.type === "directory") this.open.push({ narPath: entry.path, diskPath, seen: new Map() });
    return diskPath;
  }

  completeAll(): void {
    while (this.open.length > 0) this.onComplete(this.open.pop()!.diskPath);
  }
}

async function writeFile(path: Buffer, entry: NarEntry & { type: "regular" }, canonical: boolean): Promise<void> {
  const mode = canonical ? (entry.executable ? 0o555 : 0o444) : entry.executable ? 0o777 : 0o666;
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (error) {
    throw new SystemError(`creating file '${text(path)}'`, error);
  }
  try {
    for await (const chunk of entry.contents()) {
      let at = 0;
      while (at < chunk.length) {
        try {
          at += writeSync(fd, chunk, at, chunk.length - at);
        } catch (error) {
          throw new SystemError(`writing file '${text(path)}'`, error);
        }
      }
    }
    if (canonical) futimesSync(fd, now(), CANONICAL_MTIME);
  } finally {
    closeSync(fd);
  }
}

/** Restores the NAR read from `source` at `target`, which must not exist yet. */
export async function restoreNar(source: ByteSource, target: string, options: RestoreOptions = {}): Promise<void> {
  let exists = true;
  try {
    lstatSync(target);
  } catch {
    exists = false;
  }
  if (exists) throw new NarError(`refusing to restore into '${target}': it already exists`);

  const canonical = options.canonical ?? false;
  const completeDirectory = (path: Buffer) => {
    if (!canonical) return;
    try {
      chmodSync(path, 0o555);
      utimesSync(path, now(), CANONICAL_MTIME);
    } catch (error) {
      throw new SystemError(`canonicalising directory '${text(path)}'`, error);
    }
  };
  const paths = new DiskPaths(Buffer.from(target), options.caseHack ?? false, completeDirectory);
  try {
    for await (const entry of new NarReader(source)) {
      const path = paths.place(entry);
      if (entry.type === "directory") {
        try {
          mkdirSync(path, canonical ? 0o755 : 0o777);
        } catch (error) {
          throw new SystemError(`creating directory '${text(path)}'`, error);
        }
      } else if (entry.type === "symlink") {
        try {
          symlinkSync(Buffer.from(entry.target), path);
          if (canonical) lutimesSync(path, now(), CANONICAL_MTIME);
        } catch (error) {
          throw new SystemError(`creating symlink '${text(path)}'`, error);
        }
      } else {
        await writeFile(path, entry, canonical);
      }
    }
    if (options.requireEnd) await expectEndOfNar(source);
    paths.completeAll();
  } catch (error) {
    removeTree(target);
    throw error;
  }
}

const pendingRemovals = new Set<Promise<void>>();

/**
 * Removes a tree off the critical path: it is renamed away at once (so its
 * name is free again) and deleted by the thread pool while work goes on.
 * `finishRemovals()` waits for every such deletion.
 */
export function removeTreeLater(path: string): void {
  const doomed = `${path}.removing-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    renameSync(path, doomed);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    removeTree(path);
    return;
  }
  const removal = rm(doomed, { recursive: true, force: true }).catch(() => removeTree(doomed));
  pendingRemovals.add(removal);
  void removal.finally(() => pendingRemovals.delete(removal));
}

export async function finishRemovals(): Promise<void> {
  await Promise.all([...pendingRemovals]);
}

/** rm -rf that also copes with read-only directories (canonical store objects). */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    makeWritable(path);
    rmSync(path, { recursive: true, force: true });
  }
}

function makeWritable(path: string): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isDirectory()) return;
  chmodSync(path, 0o755);
  for (const name of readdirSync(path)) makeWritable(`${path}/${name}`);
}
