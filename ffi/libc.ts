/**
 * libc through bun:ffi: the calls node:fs does not offer (or offers only
 * with per-call allocations that dominate when walking many small files).
 * Each wrapper returns the raw result or throws ErrnoError; nothing here knows
 * about Nix.
 */
import { FFIType, dlopen, ptr as pointerOf, read } from "bun:ffi";
import { EINTR, ErrnoError } from "./errno.ts";

const { i32, u32, u64, ptr, i64_fast } = FFIType;

const lib = dlopen("libc.so.6", {
  openat: { args: [i32, ptr, i32, u32], returns: i32 },
  close: { args: [i32], returns: i32 },
  read: { args: [i32, ptr, u64], returns: i64_fast },
  statx: { args: [i32, ptr, i32, u32, ptr], returns: i32 },
  getdents64: { args: [i32, ptr, u64], returns: i64_fast },
  readlinkat: { args: [i32, ptr, ptr, u64], returns: i64_fast },
  flock: { args: [i32, i32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  connect: { args: [i32, ptr, u32], returns: i32 },
  write: { args: [i32, ptr, u64], returns: i64_fast },
  unshare: { args: [i32], returns: i32 },
  mount: { args: [ptr, ptr, ptr, u64, ptr], returns: i32 },
  statvfs: { args: [ptr, ptr], returns: i32 },
  posix_fallocate: { args: [i32, i64_fast, i64_fast], returns: i32 },
  chmod: { args: [ptr, u32], returns: i32 },
  fcntl: { args: [i32, i32, i32], returns: i32 },
  poll: { args: [ptr, u64, i32], returns: i32 },
  llistxattr: { args: [ptr, ptr, u64], returns: i64_fast },
  lremovexattr: { args: [ptr, ptr], returns: i32 },
  __errno_location: { args: [], returns: ptr },
});

/**
 * bun:ffi wraps each symbol in a JavaScript function that allocates on every
 * call; `.native` is the same call without the wrapper (typed arrays are still
 * passed as pointers). In loops over many files the difference is most of the
 * garbage produced.
 */
function native<F>(fn: F): F {
  return (fn as F & { native?: F }).native ?? fn;
}

const sym = {
  openat: native(lib.symbols.openat),
  close: native(lib.symbols.close),
  read: native(lib.symbols.read),
  statx: native(lib.symbols.statx),
  getdents64: native(lib.symbols.getdents64),
  readlinkat: native(lib.symbols.readlinkat),
  flock: native(lib.symbols.flock),
  socket: native(lib.symbols.socket),
  connect: native(lib.symbols.connect),
  write: native(lib.symbols.write),
  unshare: native(lib.symbols.unshare),
  mount: native(lib.symbols.mount),
  statvfs: native(lib.symbols.statvfs),
  posix_fallocate: native(lib.symbols.posix_fallocate),
  chmod: native(lib.symbols.chmod),
  fcntl: native(lib.symbols.fcntl),
  poll: native(lib.symbols.poll),
  llistxattr: native(lib.symbols.llistxattr),
  lremovexattr: native(lib.symbols.lremovexattr),
};
const errnoPointer = lib.symbols.__errno_location()!;

function errno(): number {
  return read.i32(errnoPointer, 0);
}

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

/** A NUL-terminated copy of a path for C. */
export function cPath(path: string | Uint8Array): Uint8Array {
  const bytes = typeof path === "string" ? Buffer.from(path) : path;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes, 0);
  return out;
}

/**
 * A call's result, or ErrnoError when it failed. `undefined` means "interrupted,
 * call again". Written without closures: these run once per file in hot loops.
 */
function check(call: string, result: number | bigint): number | undefined {
  const n = Number(result);
  if (n >= 0) return n;
  const e = errno();
  if (e === EINTR) return undefined;
  throw new ErrnoError(call, e);
}

/**
 * A C string argument: NUL-terminated bytes (see cPath), or a raw pointer
 * to such bytes (see DirectoryListing.namePointer).
 */
export type CString = Uint8Array | number;

export function openat(dirfd: number, name: CString, flags: number, mode = 0): number {
  for (;;) {
    const fd = check("open", sym.openat(dirfd, name, flags | O_CLOEXEC, mode));
    if (fd !== undefined) return fd;
  }
}

export function close(fd: number): void {
  sym.close(fd);
}

/** Reads up to `length` bytes into `buffer` at `offset`; returns the count, 0 at EOF. */
export function readInto(fd: number, buffer: Uint8Array, offset = 0, length = buffer.length - offset): number {
  // A pointer into the buffer instead of a subarray: no allocation per read.
  const at = pointerOf(buffer) + offset;
  for (;;) {
    const n = check("read", sym.read(fd, at, length));
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
  while (check("statx", sym.statx(dirfd, name, flags, STATX_TYPE_MODE_SIZE_NLINK_UID_GID_MTIME_INO, statxBuffer)) === undefined);
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
  while (check("statx", sym.statx(dirfd, name, flags, 0x0001 | 0x0002 | 0x0200, statxBuffer)) === undefined);
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
    const n = check("getdents64", sym.getdents64(fd, direntBuffer, direntBuffer.length));
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
    const n = check("readlink", sym.readlinkat(dirfd, name, linkBuffer, linkBuffer.length));
    if (n !== undefined) return linkBuffer.slice(0, n);
  }
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2); returns false when LOCK_NB was given and the lock is held elsewhere. */
export function flock(fd: number, operation: number): boolean {
  for (;;) {
    if (sym.flock(fd, operation) === 0) return true;
    const e = errno();
    if (e === EINTR) continue;
    if (e === 11 && operation & LOCK_NB) return false;
    throw new ErrnoError("flock", e);
  }
}

// ---- Unix domain sockets (blocking), for short request/reply exchanges ------

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

/** Connects a blocking stream socket to the Unix socket at `path`. */
export function connectUnix(path: string): number {
  const bytes = Buffer.from(path);
  if (bytes.length >= 108) throw new ErrnoError("connect", 36);
  const address = new Uint8Array(110);
  address[0] = AF_UNIX; // sa_family_t, little endian
  address.set(bytes, 2);
  const fd = check("socket", sym.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0))!;
  for (;;) {
    try {
      if (check("connect", sym.connect(fd, address, 2 + bytes.length + 1)) !== undefined) return fd;
    } catch (error) {
      close(fd);
      throw error;
    }
  }
}

/** Writes all of `bytes`. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) {
    const n = check("write", sym.write(fd, pointerOf(bytes) + at, bytes.length - at));
    if (n !== undefined) at += n;
  }
}

// ---- Mount namespaces -------------------------------------------------------

export const CLONE_NEWNS = 0x00020000;
export const MS_RDONLY = 1;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;

export function unshare(flags: number): void {
  while (check("unshare", sym.unshare(flags)) === undefined);
}

export function mount(source: string | null, target: string, type: string | null, flags: number): void {
  const c = (s: string | null) => (s === null ? null : cPath(s));
  while (check("mount", sym.mount(c(source), cPath(target), c(type), flags, null)) === undefined);
}

const ST_RDONLY = 1;
const statvfsBuffer = new Uint8Array(128);
const statvfsView = new DataView(statvfsBuffer.buffer);

/** Whether the file system holding `path` is mounted read-only. */
export function isReadOnlyMount(path: string): boolean {
  while (check("statvfs", sym.statvfs(cPath(path), statvfsBuffer)) === undefined);
  // struct statvfs on 64-bit Linux: f_flag is the 10th unsigned long.
  return (Number(statvfsView.getBigUint64(72, true)) & ST_RDONLY) !== 0;
}

/** Allocates disk blocks for the first `length` bytes of the file (no sparse holes). */
export function fallocate(fd: number, length: number): void {
  // posix_fallocate returns the error number instead of setting errno.
  const result = sym.posix_fallocate(fd, 0, length);
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
    const size = Number(sym.llistxattr(name, null, 0));
    if (size < 0) {
      const e = errno();
      if (e === EINTR) continue;
      if (e === ENOTSUP || e === ENODATA) return [];
      throw new ErrnoError("llistxattr", e);
    }
    if (size === 0) return [];
    const buffer = new Uint8Array(size);
    const n = Number(sym.llistxattr(name, buffer, size));
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
  while (check("lremovexattr", sym.lremovexattr(name, attr)) === undefined);
}

/** chmod(2) with every mode bit: Bun's fs.chmodSync drops the sticky bit (01000). */
export function chmodAll(path: string, mode: number): void {
  while (check("chmod", sym.chmod(cPath(path), mode)) === undefined);
}

const F_SETPIPE_SZ = 1031;

/**
 * Asks for a larger pipe buffer on `fd` (when it is a pipe): fewer wake-ups
 * of reader and writer when streaming hundreds of megabytes. Best effort.
 */
export function growPipe(fd: number, bytes: number): void {
  sym.fcntl(fd, F_SETPIPE_SZ, bytes);
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
  while (check("poll", sym.poll(pollBuffer, 1, -1)) === undefined);
}
