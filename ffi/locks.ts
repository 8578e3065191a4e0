/** flock(2), the lock Nix uses for every lock file. */
import { FFIType } from "bun:ffi";
import { EINTR, ErrnoError } from "./errno.ts";
import { errno, libcGroup } from "./call.ts";

const locks = libcGroup({ flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2); returns false when LOCK_NB was given and the lock is held elsewhere. */
export function flock(fd: number, operation: number): boolean {
  for (;;) {
    if (locks().flock(fd, operation) === 0) return true;
    const e = errno();
    if (e === EINTR) continue;
    if (e === 11 && operation & LOCK_NB) return false;
    throw new ErrnoError("flock", e);
  }
}
