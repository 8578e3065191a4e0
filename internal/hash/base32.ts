/**
 * Nix base-32 (formats.md 1.3): an alphabet without e, o, u, t; the digest read
 * as a little-endian number and printed most significant 5-bit digit first.
 * Not RFC 4648: no padding, and bytes are consumed from the end of the digest.
 */
import { HashError } from "./algorithm.ts";

export const NIX_BASE32_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz";

const DIGIT_OF = new Int8Array(256).fill(-1);
for (let i = 0; i < NIX_BASE32_ALPHABET.length; i++) DIGIT_OF[NIX_BASE32_ALPHABET.charCodeAt(i)] = i;

/** Number of base-32 characters for a digest of `bytes` bytes. */
export function base32Length(bytes: number): number {
  return Math.floor((bytes * 8 - 1) / 5) + 1;
}

export function encodeBase32(bytes: Uint8Array): string {
  const length = base32Length(bytes.length);
  let out = "";
  for (let k = length - 1; k >= 0; k--) {
    const bit = k * 5;
    const i = bit >>> 3;
    const j = bit & 7;
    const low = bytes[i]! >>> j;
    const high = i + 1 < bytes.length ? bytes[i + 1]! << (8 - j) : 0;
    out += NIX_BASE32_ALPHABET[(low | high) & 31];
  }
  return out;
}

/** True when every character of `text` is in the Nix base-32 alphabet. */
export function isBase32(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255 || DIGIT_OF[c]! < 0) return false;
  }
  return true;
}

/**
 * Decodes `text` into `bytes` bytes. Rejects characters outside the alphabet
 * and text that sets bits beyond the digest (e.g. a sha256 starting with '2').
 */
export function decodeBase32(text: string, bytes: number): Uint8Array {
  if (text.length !== base32Length(bytes)) {
    throw new HashError(`invalid base-32 hash '${text}': expected ${base32Length(bytes)} characters`);
  }
  const out = new Uint8Array(bytes);
  const last = text.length - 1;
  for (let p = 0; p < text.length; p++) {
    const c = text.charCodeAt(p);
    const digit = c > 255 ? -1 : DIGIT_OF[c]!;
    if (digit < 0) throw new HashError(`invalid base-32 hash '${text}': character '${text[p]}' at offset ${p}`);
    const bit = (last - p) * 5;
    const i = bit >>> 3;
    const j = bit & 7;
    out[i]! |= (digit << j) & 0xff;
    const carry = digit >>> (8 - j);
    if (i + 1 < bytes) out[i + 1]! |= carry;
    else if (carry !== 0) throw new HashError(`invalid base-32 hash '${text}': it encodes more than ${bytes * 8} bits`);
  }
  return out;
}
