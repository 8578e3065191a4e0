/**
 * Restores a NAR to disk (formats.md 3.5): directories with mkdir 0777,
 * files with O_CREAT|O_EXCL 0666 (+0111 when executable), symlinks verbatim,
 * all subject to the umask.
 *
 * Safety: the target must not exist; names were validated by the reader (no
 * '/', '.', '..', NUL), every parent is a directory this restore created, and
 * nothing is opened through a symlink (O_EXCL|O_NOFOLLOW), so no byte lands
 * outside the target. On any error the partial target is removed.
 */
import { closeSync, constants, lstatSync, mkdirSync, openSync, rmSync, symlinkSync, writeSync } from "node:fs";
import { SystemError } from "../errors.ts";
import type { ByteSource } from "../stream/byte-source.ts";
import { type NarEntry, NarReader, expectEndOfNar, narPathText } from "./reader.ts";
import { CASE_HACK_SUFFIX, NarError } from "./tokens.ts";

export interface RestoreOptions {
  /** Rename names that collide case-insensitively (use-case-hack). */
  caseHack?: boolean;
  /** Require the source to end right after the NAR (a whole file or stdin). */
  requireEnd?: boolean;
}

const encoder = new TextEncoder();

function concat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

const SLASH = encoder.encode("/");

/** Tracks the on-disk name of each directory on the current branch, for the case hack. */
interface OpenDirectory {
  readonly narPath: Uint8Array;
  readonly diskPath: Buffer;
  /** Lower-cased name -> collisions seen so far. */
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

class DiskPaths {
  private readonly open: OpenDirectory[] = [];
  constructor(
    private readonly target: Buffer,
    private readonly caseHack: boolean,
  ) {}

  /** The on-disk path of an entry, registering directories for their children. */
  place(entry: NarEntry): Buffer {
    if (entry.path.length === 0) {
      if (entry.type === "directory") this.open.push({ narPath: entry.path, diskPath: this.target, seen: new Map() });
      return this.target;
    }
    const parent = parentOf(entry.path);
    while (this.open.length > 0 && Buffer.compare(this.open[this.open.length - 1]!.narPath, parent) !== 0) this.open.pop();
    const dir = this.open[this.open.length - 1];
    if (dir === undefined) throw new Error(`NAR entry '${narPathText(entry.path)}' has no open parent`);
    let name = nameOf(entry.path);
    if (this.caseHack) {
      const key = asciiLower(name);
      const count = dir.seen.get(key);
      if (count === undefined) dir.seen.set(key, 0);
      else {
        dir.seen.set(key, count + 1);
        name = concat(name, encoder.encode(`${CASE_HACK_SUFFIX}${count + 1}`));
      }
    }
    const diskPath = concat(dir.diskPath, SLASH, name);
    if (entry.type === "directory") this.open.push({ narPath: entry.path, diskPath, seen: new Map() });
    return diskPath;
  }
}

function text(path: Uint8Array): string {
  return narPathText(path);
}

async function writeFile(path: Buffer, entry: NarEntry & { type: "regular" }): Promise<void> {
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      entry.executable ? 0o777 : 0o666,
    );
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
  } finally {
    closeSync(fd);
  }
}

/** Restores the NAR read from `source` at `target`, which must not exist yet. */
export async function restoreNar(source: ByteSource, target: string, options: RestoreOptions = {}): Promise<void> {
  const targetBytes = Buffer.from(target);
  let exists = true;
  try {
    lstatSync(target);
  } catch {
    exists = false;
  }
  if (exists) throw new NarError(`refusing to restore into '${target}': it already exists`);

  const paths = new DiskPaths(targetBytes, options.caseHack ?? false);
  try {
    for await (const entry of new NarReader(source)) {
      const path = paths.place(entry);
      if (entry.type === "directory") {
        try {
          mkdirSync(path, 0o777);
        } catch (error) {
          throw new SystemError(`creating directory '${text(path)}'`, error);
        }
      } else if (entry.type === "symlink") {
        try {
          symlinkSync(Buffer.from(entry.target), path);
        } catch (error) {
          throw new SystemError(`creating symlink '${text(path)}'`, error);
        }
      } else {
        await writeFile(path, entry);
      }
    }
    if (options.requireEnd) await expectEndOfNar(source);
  } catch (error) {
    rmSync(target, { recursive: true, force: true });
    throw error;
  }
}
