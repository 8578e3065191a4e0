/**
 * Blocking Unix domain sockets, for short request/reply exchanges (the GC
 * roots socket), and the credentials of a socket's peer.
 */
import { FFIType, ptr as pointerOf } from "bun:ffi";
import { ErrnoError } from "./errno.ts";
import { check, libcGroup } from "./call.ts";
import { close } from "./files.ts";

const sockets = libcGroup({
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
});

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
  const fd = check("socket", sockets().socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0))!;
  for (;;) {
    try {
      if (check("connect", sockets().connect(fd, address, 2 + bytes.length + 1)) !== undefined) return fd;
    } catch (error) {
      close(fd);
      throw error;
    }
  }
}

/** Writes all of `bytes`. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) {
    const n = check("write", sockets().write(fd, pointerOf(bytes) + at, bytes.length - at));
    if (n !== undefined) at += n;
  }
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/** The pid, uid and gid of the process at the other end of a connected Unix socket (SO_PEERCRED). */
export function peerCredentials(fd: number): PeerCredentials {
  const ucred = new Int32Array(3);
  const length = new Uint32Array([12]);
  for (;;) {
    if (check("getsockopt(SO_PEERCRED)", sockets().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ucred, length)) !== undefined) break;
  }
  return { pid: ucred[0]!, uid: ucred[1]! >>> 0, gid: ucred[2]! >>> 0 };
}
