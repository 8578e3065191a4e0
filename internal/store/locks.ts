/**
 * Nix's lock files (store-layout.md 4), all flock(2):
 *
 * - the big lock `db/big-lock`, held shared for the life of the process and
 *   exclusively only while the schema is created or upgraded;
 * - per-path locks `<real path>.lock`, taken in sorted order. A holder that
 *   finishes the path unlinks the file and writes one byte into it before
 *   closing: a waiter that then gets the lock sees a non-empty file, knows it
 *   locked a dead file, and retries with a fresh one.
 */
import { closeSync, fstatSync, openSync, unlinkSync, writeSync } from "node:fs";
import { ErrnoError } from "../../ffi/errno.ts";
import { LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, flock } from "../../ffi/libc.ts";
import { SystemError } from "../errors.ts";

export type LockMode = "shared" | "exclusive";

function op(mode: LockMode): number {
  return mode === "shared" ? LOCK_SH : LOCK_EX;
}

/** Opens (creating, 0600) a lock file. */
export function openLockFile(path: string): number {
  try {
    return openSync(path, "a+", 0o600);
  } catch (error) {
    throw new SystemError(`opening lock file '${path}'`, error);
  }
}

function lockOrThrow(fd: number, operation: number, path: string): boolean {
  try {
    return flock(fd, operation);
  } catch (error) {
    throw new SystemError(`locking '${path}'`, error as ErrnoError);
  }
}

/** Blocks until the lock is held. */
export function lockFd(fd: number, mode: LockMode, path: string): void {
  lockOrThrow(fd, op(mode), path);
}

/** Takes the lock if it is free right now. */
export function tryLockFd(fd: number, mode: LockMode, path: string): boolean {
  return lockOrThrow(fd, op(mode) | LOCK_NB, path);
}

export function unlockFd(fd: number, path: string): void {
  lockOrThrow(fd, LOCK_UN, path);
}

/** Waits for a lock without blocking the event loop (polls with back-off). */
export async function lockFdAsync(fd: number, mode: LockMode, path: string): Promise<void> {
  for (let wait = 1; !tryLockFd(fd, mode, path); wait = Math.min(wait * 2, 100)) await Bun.sleep(wait);
}

/** A held `<path>.lock`. */
export class PathLock {
  private released = false;
  constructor(
    readonly lockPath: string,
    private readonly fd: number,
  ) {}

  /**
   * Releases the lock. With `deleteFile` the lock file is removed and marked
   * dead (a byte written into it) so that waiters on it start over.
   */
  release(deleteFile: boolean): void {
    if (this.released) return;
    this.released = true;
    if (deleteFile) {
      try {
        unlinkSync(this.lockPath);
      } catch {
        // already gone
      }
      try {
        writeSync(this.fd, "d");
      } catch {
        // a failed write only costs the waiters one extra round
      }
    }
    closeSync(this.fd);
  }
}

/** Takes `<lockPath>` with the dead-file protocol; undefined when `wait` is false and it is busy. */
export function lockPath(lockFile: string, wait: boolean): PathLock | undefined {
  for (;;) {
    const fd = openLockFile(lockFile);
    if (!tryLockFd(fd, "exclusive", lockFile)) {
      if (!wait) {
        closeSync(fd);
        return undefined;
      }
      lockFd(fd, "exclusive", lockFile);
    }
    if (fstatSync(fd).size === 0) return new PathLock(lockFile, fd);
    closeSync(fd); // the previous holder deleted this file: try a fresh one
  }
}

/**
 * `lockPath` that waits without blocking the event loop: in one process
 * serving many clients (the daemon), two builds of the same path must not
 * wait for each other inside flock(2).
 */
export async function lockPathAsync(lockFile: string): Promise<PathLock> {
  for (;;) {
    const fd = openLockFile(lockFile);
    try {
      await lockFdAsync(fd, "exclusive", lockFile);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    if (fstatSync(fd).size === 0) return new PathLock(lockFile, fd);
    closeSync(fd);
  }
}

/** Locks several paths in sorted order (so that two processes never deadlock). */
export class PathLocks {
  private readonly locks: PathLock[] = [];

  static acquire(realPaths: readonly string[]): PathLocks {
    const locks = new PathLocks();
    for (const path of [...new Set(realPaths)].sort()) locks.locks.push(lockPath(`${path}.lock`, true)!);
    return locks;
  }

  /** `acquire` without blocking the event loop while another holder has one of the paths. */
  static async acquireAsync(realPaths: readonly string[]): Promise<PathLocks> {
    const locks = new PathLocks();
    try {
      for (const path of [...new Set(realPaths)].sort()) locks.locks.push(await lockPathAsync(`${path}.lock`));
    } catch (error) {
      locks.release(false);
      throw error;
    }
    return locks;
  }

  release(deleteFiles: boolean): void {
    for (const lock of this.locks) lock.release(deleteFiles);
    this.locks.length = 0;
  }
}
