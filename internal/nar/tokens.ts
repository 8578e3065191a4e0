/**
 * The NAR grammar (formats.md 3.1-3.2), written once as byte tokens.
 *
 *   nar   = str("nix-archive-1") node
 *   node  = str("(") str("type") typed str(")")
 *   typed = str("regular") [str("executable") str("")] str("contents") str(bytes)
 *         | str("symlink") str("target") str(bytes)
 *         | str("directory") { entry }
 *   entry = str("entry") str("(") str("name") str(bytes) str("node") node str(")")
 *
 * str(x) = u64le(len x) ++ x ++ zero padding to a multiple of 8.
 */
import { BunixError } from "../errors.ts";

export class NarError extends BunixError {
  override name = "NarError";
}

/** The padding that follows a string of `length` bytes. */
export function paddingOf(length: number): number {
  return (8 - (length % 8)) % 8;
}

/** str(x) as bytes. */
export function encodeString(text: string | Uint8Array): Uint8Array {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const out = new Uint8Array(8 + bytes.length + paddingOf(bytes.length));
  writeU64(out, 0, bytes.length);
  out.set(bytes, 8);
  return out;
}

/** Writes a little-endian u64 (value < 2^53) without allocating. */
export function writeU64(target: Uint8Array, at: number, value: number): void {
  let low = value >>> 0;
  let high = Math.floor(value / 0x100000000);
  for (let i = 0; i < 4; i++, low >>>= 8) target[at + i] = low & 0xff;
  for (let i = 4; i < 8; i++, high >>>= 8) target[at + i] = high & 0xff;
}

export const MAGIC = "nix-archive-1";

export const TOKEN = {
  magic: encodeString(MAGIC),
  open: encodeString("("),
  close: encodeString(")"),
  type: encodeString("type"),
  regular: encodeString("regular"),
  executable: encodeString("executable"),
  empty: encodeString(""),
  contents: encodeString("contents"),
  symlink: encodeString("symlink"),
  target: encodeString("target"),
  directory: encodeString("directory"),
  entry: encodeString("entry"),
  name: encodeString("name"),
  node: encodeString("node"),
} as const;

/** The longest fixed token's text ("nix-archive-1"); a longer tag is never valid. */
export const MAX_TAG_LENGTH = 16;
/** Linux NAME_MAX: a longer entry name could never be restored. */
export const MAX_NAME_LENGTH = 255;
/** Linux PATH_MAX - 1: the longest symlink target the kernel stores. */
export const MAX_TARGET_LENGTH = 4095;

/** The suffix the case hack appends to names that collide case-insensitively. */
export const CASE_HACK_SUFFIX = "~nix~case~hack~";
