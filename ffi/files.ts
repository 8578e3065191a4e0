/**
 * File system calls that node:fs lacks or makes slow: directory-relative
 * opens and stats, packed directory listings, reads into a caller's buffer,
 * the full chmod, pipe sizing and readiness, space allocation and extended
 * attributes.
 */
import { FFIType, ptr as pointerOf } from "bun:ffi";
import { EAGAIN, EINTR, ErrnoError } from "./errno.ts";
import { type CString, check, cPath, errno, libcGroup } from "./call.ts";

const files = libcGroup({
  openat: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  statx: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
  getdents64: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  readlinkat: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  chmod: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  posix_fallocate: { args: [FFIType.i32, FFIType.i64_fast, FFIType.i64_fast], returns: FFIType.i32 },
  llistxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  lremovexattr: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
});

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;
export const O_RDONLY = 0;
export const O_NOFOLLOW = 0o400000;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

export const DT_UNKNOWN = 0;
export const DT_DIR = 4;
export const DT_REG = 8;
export const DT_LNK = 10;

export function openat(dirfd: number, name: CString, flags: number, mode = 0): number {
  for (;;) {
    const fd = check("open", files().openat(dirfd, name, flags | O_CLOEXEC, mode));
    if (fd !== undefined) return fd;
  }
}

export function close(fd: number): void {
  files().close(fd);
}

/**
 * Like readInto, but a non-blocking descriptor with nothing to read gives -1
 * instead of an exception (polling loops would otherwise build an Error,
 * stack trace included, on every idle turn).
 */
export function readAvailable(fd: number, buffer: Uint8Array, offset = 0, length = buffer.length - offset): number {
  const at = pointerOf(buffer) + offset;
  for (;;) {
    const n = Number(files().read(fd, at, length));
    if (n >= 0) return n;
    const e = errno();
    if (e === EINTR) continue;
    if (e === EAGAIN) return -1;
    throw new ErrnoError("read", e);
  }
}

/** Reads up to `length` bytes into `buffer` at `offset`; returns the count, 0 at EOF. */
export function readInto(fd: number, buffer: Uint8Array, offset = 0, length = buffer.length - offset): number {
  // A pointer into the buffer instead of a subarray: no allocation per read.
  const at = pointerOf(buffer) + offset;
  for (;;) {
    const n = check("read", files().read(fd, at, length));
    if (n !== undefined) return n;
  }
}

// struct statx is laid out identically on every Linux architecture.
const STATX_TYPE_MODE_SIZE_NLINK_UID_GID_MTIME_INO = 0x0001 | 0x0002 | 0x0200 | 0x0004 | 0x0008 | 0x0010 | 0x0040 | 0x0100;
const statxBuffer = new Uint8Array(256);
const statxView = new DataView(statxBuffer.buffer);

export interface StatResult {
  mode: number;
  size: number;
  nlink: number;
  uid: number;
  gid: number;
  ino: bigint;
  mtimeSeconds: number;
}

/** statx into a shared buffer; the result object is fresh. */
export function statxAt(dirfd: number, name: CString, flags: number): StatResult {
  while (check("statx", files().statx(dirfd, name, flags, STATX_TYPE_MODE_SIZE_NLINK_UID_GID_MTIME_INO, statxBuffer)) === undefined);
  return {
    nlink: statxView.getUint32(16, true),
    uid: statxView.getUint32(20, true),
    gid: statxView.getUint32(24, true),
    mode: statxView.getUint16(28, true),
    ino: statxView.getBigUint64(32, true),
    size: statxView.getUint32(40, true) + statxView.getUint32(44, true) * 0x100000000,
    mtimeSeconds: Number(statxView.getBigInt64(112, true)),
  };
}

/** Only the mode and size: the hot path of walking a tree, without allocation. */
export function statxModeSize(dirfd: number, name: CString, flags: number, out: { mode: number; size: number }): void {
  while (check("statx", files().statx(dirfd, name, flags, 0x0001 | 0x0002 | 0x0200, statxBuffer)) === undefined);
  out.mode = statxView.getUint16(28, true);
  out.size = statxView.getUint32(40, true) + statxView.getUint32(44, true) * 0x100000000;
}

export const EMPTY_NAME = new Uint8Array(1);

const direntBuffer = new Uint8Array(64 << 10);
const direntView = new DataView(direntBuffer.buffer);

/**
 * The entries of a directory (without "." and ".."), packed: all names in one
 * buffer, each followed by its NUL, so that listing and sorting a directory
 * allocates a handful of objects however many entries it has.
 */
export class DirectoryListing {
  readonly starts: number[] = [];
  readonly lengths: number[] = [];
  /** DT_* types from the directory (DT_UNKNOWN on some file systems). */
  readonly types: number[] = [];
  private bytes: Buffer = Buffer.alloc(4096);
  private used = 0;

  get count(): number {
    return this.starts.length;
  }

  add(source: Uint8Array, start: number, length: number, type: number): void {
    if (this.used + length + 1 > this.bytes.length) {
      const grown = Buffer.alloc(Math.max(this.bytes.length * 2, this.used + length + 1));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    this.bytes.set(source.subarray(start, start + length + 1), this.used);
    this.starts.push(this.used);
    this.lengths.push(length);
    this.types.push(type);
    this.used += length + 1;
  }

  /** Pointer to entry i's NUL-terminated name, for *at() calls (valid while the listing lives). */
  namePointer(i: number): number {
    return pointerOf(this.bytes) + this.starts[i]!;
  }

  /** Copy of entry i's name. */
  name(i: number): Uint8Array {
    return this.bytes.subarray(this.starts[i]!, this.starts[i]! + this.lengths[i]!);
  }

  /** Bytewise comparison of the first `lengthI`/`lengthJ` bytes of two names. */
  compare(i: number, lengthI: number, j: number, lengthJ: number): number {
    const a = this.starts[i]!;
    const b = this.starts[j]!;
    return this.bytes.compare(this.bytes, b, b + lengthJ, a, a + lengthI);
  }

  /** Copies the first `length` bytes of entry i's name into `target` at `at`. */
  copyName(i: number, length: number, target: Uint8Array, at: number): void {
    this.bytes.copy(target, at, this.starts[i]!, this.starts[i]! + length);
  }

  /** Offset of `needle` in entry i's name, or -1. */
  indexIn(i: number, needle: Uint8Array): number {
    const at = this.bytes.indexOf(needle, this.starts[i]!);
    return at >= 0 && at + needle.length <= this.starts[i]! + this.lengths[i]! ? at - this.starts[i]! : -1;
  }
}

/** All entries of an open directory except "." and "..". */
export function readDirectory(fd: number): DirectoryListing {
  const listing = new DirectoryListing();
  for (;;) {
    const n = check("getdents64", files().getdents64(fd, direntBuffer, direntBuffer.length));
    if (n === undefined) continue;
    if (n === 0) return listing;
    for (let off = 0; off < n; ) {
      const reclen = direntView.getUint16(off + 16, true);
      const type = direntBuffer[off + 18]!;
      const start = off + 19;
      const length = direntBuffer.indexOf(0, start) - start;
      const dot = direntBuffer[start] === 0x2e;
      if (!(dot && (length === 1 || (length === 2 && direntBuffer[start + 1] === 0x2e)))) listing.add(direntBuffer, start, length, type);
      off += reclen;
    }
  }
}

const linkBuffer = new Uint8Array(4097);

export function readlinkAt(dirfd: number, name: CString): Uint8Array {
  for (;;) {
    const n = check("readlink", files().readlinkat(dirfd, name, linkBuffer, linkBuffer.length));
    if (n !== undefined) return linkBuffer.slice(0, n);
  }
}

/** Allocates disk blocks for the first `length` bytes of the file (no sparse holes). */
export function fallocate(fd: number, length: number): void {
  // posix_fallocate returns the error number instead of setting errno.
  const result = files().posix_fallocate(fd, 0, length);
  if (result !== 0) throw new ErrnoError("posix_fallocate", result);
}

// ---- Extended attributes (never following symlinks) -------------------------

const ENODATA = 61;
const ENOTSUP = 95;
const ERANGE = 34;

/**
 * Names of the extended attributes of `path` (llistxattr); empty when the
 * file system does not support them.
 */
export function llistxattr(path: string | Uint8Array): string[] {
  const name = cPath(path);
  for (;;) {
    const size = Number(files().llistxattr(name, null, 0));
    if (size < 0) {
      const e = errno();
      if (e === EINTR) continue;
      if (e === ENOTSUP || e === ENODATA) return [];
      throw new ErrnoError("llistxattr", e);
    }
    if (size === 0) return [];
    const buffer = new Uint8Array(size);
    const n = Number(files().llistxattr(name, buffer, size));
    if (n < 0) {
      const e = errno();
      // The list grew between the two calls: ask again.
      if (e === EINTR || e === ERANGE) continue;
      throw new ErrnoError("llistxattr", e);
    }
    return Buffer.from(buffer.buffer, 0, n)
      .toString("latin1")
      .split("\0")
      .filter((a) => a !== "");
  }
}

/** Removes one extended attribute of `path` (lremovexattr). */
export function lremovexattr(path: string | Uint8Array, attribute: string): void {
  const name = cPath(path);
  const attr = cPath(Buffer.from(attribute, "latin1"));
  while (check("lremovexattr", files().lremovexattr(name, attr)) === undefined);
}

/** chmod(2) with every mode bit: Bun's fs.chmodSync drops the sticky bit (01000). */
export function chmodAll(path: string, mode: number): void {
  while (check("chmod", files().chmod(cPath(path), mode)) === undefined);
}

const F_SETPIPE_SZ = 1031;

/**
 * Asks for a larger pipe buffer on `fd` (when it is a pipe): fewer wake-ups
 * of reader and writer when streaming hundreds of megabytes. Best effort.
 */
export function growPipe(fd: number, bytes: number): void {
  files().fcntl(fd, F_SETPIPE_SZ, bytes);
}

const POLLIN = 1;
const POLLOUT = 4;
const pollBuffer = new Uint8Array(8);
const pollView = new DataView(pollBuffer.buffer);

/**
 * Blocks until `fd` is readable (or writable). For descriptors another
 * process left in non-blocking mode (a shared pipe), where read/write would
 * fail with EAGAIN.
 */
export function waitForFd(fd: number, direction: "read" | "write"): void {
  pollView.setInt32(0, fd, true);
  pollView.setInt16(4, direction === "read" ? POLLIN : POLLOUT, true);
  pollView.setInt16(6, 0, true);
  while (check("poll", files().poll(pollBuffer, 1, -1)) === undefined);
}
