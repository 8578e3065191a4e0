/**
 * Removing store objects through `<realStoreDir>/trash`: an object is first
 * renamed into the trash (one atomic step: its store path no longer exists,
 * so no process can see it half-deleted), then removed from there. Names in
 * the trash end in `-<pid>-<random>`; leftovers of processes that died are
 * removed by the next collector, entries of a live process are left to it.
 *
 * Bytes freed are counted as Nix 2.8 counts them: the sizes of
 * non-directories with one link, or two (the second presumably in .links).
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { SystemError } from "../errors.ts";
import { type Sliced, runAtOnce } from "../store/time-slices.ts";

export const TRASH_NAME = "trash";

/** Whether a process with this pid exists (ours counts). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid in a trash entry's name, or undefined. */
function ownerOf(name: string): number | undefined {
  const match = /-(\d+)-[0-9a-z]+$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Bytes that deleting the tree would free (counted as deleteTree counts them). */
export function treeSize(path: string): number {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.nlink <= 2 ? st.size : 0;
  let bytes = 0;
  try {
    for (const name of readdirSync(path)) bytes += treeSize(join(path, name));
  } catch {
    // unreadable: counted as empty
  }
  return bytes;
}

/** Deletes a tree (making directories writable first); returns the bytes freed. */
export function deleteTree(path: string): number {
  return runAtOnce(deleteTreeSliced(path));
}

/** deleteTree that may pause after each entry (see time-slices.ts): for trees already out of the store namespace. */
export function* deleteTreeSliced(path: string): Sliced<number> {
  let st;
  try {
    st = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw new SystemError(`getting status of '${path}'`, error);
  }
  if (!st.isDirectory()) {
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw new SystemError(`cannot unlink '${path}'`, error);
    }
    yield;
    return st.nlink <= 2 ? st.size : 0;
  }
  if ((st.mode & 0o700) !== 0o700) chmodSync(path, st.mode | 0o700);
  let bytes = 0;
  for (const name of readdirSync(path)) bytes += yield* deleteTreeSliced(join(path, name));
  try {
    rmdirSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new SystemError(`cannot unlink '${path}'`, error);
  }
  return bytes;
}

export class Trash {
  readonly dir: string;
  private readonly suffix = `-${process.pid}-`;
  private made = false;

  constructor(readonly realStoreDir: string) {
    this.dir = join(realStoreDir, TRASH_NAME);
  }

  /** Whether a live process other than us has entries in the trash (it is emptying them). */
  inUseByOthers(): boolean {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return false;
    }
    return names.some((name) => {
      const pid = ownerOf(name);
      return pid !== undefined && pid !== process.pid && processAlive(pid);
    });
  }

  /** Removes entries left by processes that died; returns the bytes freed. */
  removeLeftovers(): number {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    let bytes = 0;
    for (const name of names) {
      const pid = ownerOf(name);
      if (pid === undefined || !processAlive(pid)) bytes += deleteTree(join(this.dir, name));
    }
    return bytes;
  }

  /** Renames `<realStoreDir>/<name>` into the trash; undefined when it does not exist. */
  moveIn(name: string): string | undefined {
    if (!this.made) {
      mkdirSync(this.dir, { recursive: true });
      this.made = true;
    }
    const target = join(this.dir, name + this.suffix + Math.random().toString(36).slice(2, 10));
    try {
      renameSync(join(this.realStoreDir, name), target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new SystemError(`moving '${join(this.realStoreDir, name)}' to the trash`, error);
    }
    return target;
  }

  /** Removes the trash directory when it is empty. */
  close(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // not empty (another process uses it) or gone
    }
  }
}
