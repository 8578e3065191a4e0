/** Mount namespaces and mount flags (making a read-only store writable privately). */
import { FFIType } from "bun:ffi";
import { check, cPath, libcGroup } from "./call.ts";

const namespaces = libcGroup({
  unshare: { args: [FFIType.i32], returns: FFIType.i32 },
  mount: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  statvfs: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
});

export const CLONE_NEWNS = 0x00020000;
export const MS_RDONLY = 1;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;

export function unshare(flags: number): void {
  while (check("unshare", namespaces().unshare(flags)) === undefined);
}

export function mount(source: string | null, target: string, type: string | null, flags: number): void {
  const c = (s: string | null) => (s === null ? null : cPath(s));
  while (check("mount", namespaces().mount(c(source), cPath(target), c(type), flags, null)) === undefined);
}

const ST_RDONLY = 1;
const statvfsBuffer = new Uint8Array(128);
const statvfsView = new DataView(statvfsBuffer.buffer);

/** Whether the file system holding `path` is mounted read-only. */
export function isReadOnlyMount(path: string): boolean {
  while (check("statvfs", namespaces().statvfs(cPath(path), statvfsBuffer)) === undefined);
  // struct statvfs on 64-bit Linux: f_flag is the 10th unsigned long.
  return (Number(statvfsView.getBigUint64(72, true)) & ST_RDONLY) !== 0;
}

/**
 * The MS_* flags a bind mount of `path` must keep when remounted inside a
 * user namespace (the kernel locks nosuid, nodev, noexec and atime flags).
 */
export function lockedMountFlags(path: string): number {
  while (check("statvfs", namespaces().statvfs(cPath(path), statvfsBuffer)) === undefined);
  const st = Number(statvfsView.getBigUint64(72, true));
  let flags = st & (2 | 4 | 8); // ST_NOSUID, ST_NODEV, ST_NOEXEC == MS_*
  if (st & 1024) flags |= 1024; // ST_NOATIME -> MS_NOATIME
  if (st & 2048) flags |= 2048; // ST_NODIRATIME -> MS_NODIRATIME
  if (st & 4096) flags |= 1 << 21; // ST_RELATIME -> MS_RELATIME
  return flags;
}
