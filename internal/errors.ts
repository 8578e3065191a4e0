/**
 * The root of bunix's typed errors. Every error a user can cause carries a
 * message that names what was wrong and where; `cmd/` prints `error: <message>`
 * and exits non-zero. Code that is not at fault (a bug) throws plain Errors.
 */
export class BunixError extends Error {
  override name = "BunixError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An argument or flag that cannot be used as given. */
export class UsageError extends BunixError {
  override name = "UsageError";
}

/** Text for an errno-style failure from node:fs, e.g. "No such file or directory". */
export function describeSystemError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const text = code ? ERRNO_TEXT[code] : undefined;
    if (text) return text;
    return error.message;
  }
  return String(error);
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "No such file or directory",
  EEXIST: "File exists",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  ELOOP: "Too many levels of symbolic links",
  ENAMETOOLONG: "File name too long",
  EMLINK: "Too many links",
  EXDEV: "Invalid cross-device link",
  EIO: "Input/output error",
  EBADF: "Bad file descriptor",
  EPIPE: "Broken pipe",
  ENOTEMPTY: "Directory not empty",
  EINVAL: "Invalid argument",
  ENOEXEC: "Exec format error",
  E2BIG: "Argument list too long",
  ENOSYS: "Function not implemented",
  EBUSY: "Device or resource busy",
  ESRCH: "No such process",
};

/** Wraps a failed system call as "<verb> '<path>': <reason>", like Nix's SysError. */
export class SystemError extends BunixError {
  override name = "SystemError";
  readonly code: string | undefined;
  constructor(what: string, cause: unknown) {
    super(`${what}: ${describeSystemError(cause)}`, { cause });
    this.code = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
  }
}
