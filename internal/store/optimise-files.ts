/**
 * File-level helpers of the optimiser: directory listings that carry inode
 * numbers (getdents64), so that entries already in `.links` are skipped
 * without even a stat, and the NAR hash of a single regular file or symlink,
 * computed from its bytes without building a NAR (the key of `.links`).
 *
 * Paths are byte strings (Buffers): store objects may have names that are
 * not UTF-8.
 */
import { FFIType } from "bun:ffi";
import { closeSync, openSync, readSync, readlinkSync } from "node:fs";
import { check, cPath, libcGroup } from "../../ffi/call.ts";
import { AT_FDCWD, O_DIRECTORY, O_NOFOLLOW, O_RDONLY, close, openat } from "../../ffi/files.ts";
import { encodeBase32 } from "../hash/base32.ts";
import { createHasher } from "../hash/hasher.ts";

const calls = libcGroup({
  getdents64: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
});

export interface DirEntry {
  readonly name: Buffer;
  /** Inode number (exact below 2^53). */
  readonly ino: number;
}

const direntBuffer = new Uint8Array(64 << 10);
const direntView = new DataView(direntBuffer.buffer);

/** The entries of a directory except "." and "..", with their inode numbers. */
export function listDirectory(path: Uint8Array): DirEntry[] {
  const fd = openat(AT_FDCWD, cPath(path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  const entries: DirEntry[] = [];
  try {
    for (;;) {
      const n = check("getdents64", calls().getdents64(fd, direntBuffer, direntBuffer.length));
      if (n === undefined) continue;
      if (n === 0) return entries;
      for (let off = 0; off < n; ) {
        const reclen = direntView.getUint16(off + 16, true);
        const start = off + 19;
        const end = direntBuffer.indexOf(0, start);
        const length = end - start;
        const dot = direntBuffer[start] === 0x2e && (length === 1 || (length === 2 && direntBuffer[start + 1] === 0x2e));
        if (!dot) {
          const ino = direntView.getUint32(off, true) + direntView.getUint32(off + 4, true) * 0x100000000;
          entries.push({ name: Buffer.from(direntBuffer.subarray(start, end)), ino });
        }
        off += reclen;
      }
    }
  } finally {
    close(fd);
  }
}

/** Inode numbers of every entry of a directory (the `.links` pool); empty when it does not exist. */
export function loadInodes(path: string): Set<number> {
  const inodes = new Set<number>();
  try {
    for (const entry of listDirectory(Buffer.from(path))) inodes.add(entry.ino);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return inodes;
}

export function joinBytes(dir: Uint8Array, name: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(dir.length + 1 + name.length);
  out.set(dir, 0);
  out[dir.length] = 0x2f;
  out.set(name, dir.length + 1);
  return out;
}

function narString(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + bytes.length + ((8 - (bytes.length % 8)) % 8));
  new DataView(out.buffer).setUint32(0, bytes.length, true);
  out.set(bytes, 8);
  return out;
}

const concat = (...parts: Uint8Array[]) => Buffer.concat(parts);
const REGULAR_PREFIX = concat(...["nix-archive-1", "(", "type", "regular"].map(narString));
const EXECUTABLE = concat(narString("executable"), narString(""));
const CONTENTS = narString("contents");
const CLOSE = narString(")");
const SYMLINK_PREFIX = concat(...["nix-archive-1", "(", "type", "symlink", "target"].map(narString));
const ZEROS = new Uint8Array(8);
const readBuffer = Buffer.allocUnsafe(1 << 20);

function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, value % 0x100000000, true);
  view.setUint32(4, Math.floor(value / 0x100000000), true);
  return out;
}

/** Files up to this size are hashed in one call over one buffer (NAR framing included). */
const SMALL_FILE = 256 << 10;
const smallBuffer = Buffer.allocUnsafe(SMALL_FILE + 256);

function putU64(buffer: Uint8Array, at: number, value: number): void {
  const view = new DataView(buffer.buffer, buffer.byteOffset + at, 8);
  view.setUint32(0, value % 0x100000000, true);
  view.setUint32(4, Math.floor(value / 0x100000000), true);
}

function readExactly(fd: number, buffer: Uint8Array, at: number, size: number): number {
  let total = 0;
  while (total < size) {
    const n = readSync(fd, buffer, at + total, size - total, null);
    if (n === 0) break;
    total += n;
  }
  return total;
}

/**
 * Nix base-32 SHA-256 of the NAR of a regular file (`size` bytes, executable
 * or not) or of a symlink: the executable bit and a symlink's target are part
 * of the key, so such files are never linked to plain ones.
 */
export function fileNarHash(path: Uint8Array, kind: "regular" | "executable" | "symlink", size: number): string {
  if (kind === "symlink") {
    const hasher = createHasher("sha256");
    const target = readlinkSync(Buffer.from(path), "buffer");
    hasher.update(SYMLINK_PREFIX);
    hasher.update(u64(target.length));
    hasher.update(target);
    hasher.update(ZEROS.subarray(0, (8 - (target.length % 8)) % 8));
    hasher.update(CLOSE);
    return encodeBase32(hasher.finish().digest);
  }
  const fd = openSync(Buffer.from(path), "r");
  try {
    if (size <= SMALL_FILE) {
      // The whole NAR in one buffer, hashed in one call.
      let at = 0;
      smallBuffer.set(REGULAR_PREFIX, at);
      at += REGULAR_PREFIX.length;
      if (kind === "executable") {
        smallBuffer.set(EXECUTABLE, at);
        at += EXECUTABLE.length;
      }
      smallBuffer.set(CONTENTS, at);
      at += CONTENTS.length;
      putU64(smallBuffer, at, size);
      at += 8;
      if (readExactly(fd, smallBuffer, at, size) !== size) throw new Error(`'${Buffer.from(path).toString()}' changed size while being hashed`);
      at += size;
      const padding = (8 - (size % 8)) % 8;
      smallBuffer.fill(0, at, at + padding);
      at += padding;
      smallBuffer.set(CLOSE, at);
      at += CLOSE.length;
      return encodeBase32(Bun.CryptoHasher.hash("sha256", smallBuffer.subarray(0, at)));
    }
    const hasher = createHasher("sha256");
    hasher.update(REGULAR_PREFIX);
    if (kind === "executable") hasher.update(EXECUTABLE);
    hasher.update(CONTENTS);
    hasher.update(u64(size));
    let total = 0;
    // Exactly `size` bytes (no read to find the end): the file is read-only store content.
    while (total < size) {
      const n = readSync(fd, readBuffer, 0, Math.min(readBuffer.length, size - total), null);
      if (n === 0) break;
      hasher.update(readBuffer.subarray(0, n));
      total += n;
    }
    // A file that shrank under us would give a wrong key: refuse it.
    if (total !== size) throw new Error(`'${Buffer.from(path).toString()}' changed size while being hashed`);
    hasher.update(ZEROS.subarray(0, (8 - (size % 8)) % 8));
    hasher.update(CLOSE);
    return encodeBase32(hasher.finish().digest);
  } finally {
    closeSync(fd);
  }
}
