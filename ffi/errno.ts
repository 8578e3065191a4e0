/**
 * Errors from libc calls made through bun:ffi. `code` is the symbolic errno
 * name (ENOENT, ...), like node:fs errors, so callers can treat both alike.
 */
const NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 7: "E2BIG", 8: "ENOEXEC", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
  16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 24: "EMFILE", 28: "ENOSPC",
  30: "EROFS", 31: "EMLINK", 32: "EPIPE", 36: "ENAMETOOLONG", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP",
  95: "EOPNOTSUPP", 104: "ECONNRESET", 111: "ECONNREFUSED",
};

export class ErrnoError extends Error {
  override name = "ErrnoError";
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    const code = NAMES[errno] ?? `errno ${errno}`;
    super(`${syscall} failed: ${code}`);
    this.code = code;
  }
}

export const EINTR = 4;
export const EAGAIN = 11;
export const EWOULDBLOCK = EAGAIN;
