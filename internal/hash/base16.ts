/** Lower-case hexadecimal (formats.md 1.2); upper case is accepted when parsing. */
import { HashError } from "./algorithm.ts";

const HEX = "0123456789abcdef";
const NIBBLE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  NIBBLE[HEX.charCodeAt(i)] = i;
  NIBBLE[HEX.toUpperCase().charCodeAt(i)] = i;
}

// Buffer's native hex codec is several times faster than a JavaScript loop (path info is formatted per daemon request).
export function encodeBase16(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

export function decodeBase16(text: string): Uint8Array {
  if (text.length % 2 !== 0) throw new HashError(`invalid base-16 hash '${text}': odd length`);
  // Buffer stops at the first pair that is not hex: a short result means bad input, located by the loop below.
  const fast = Buffer.from(text, "hex");
  if (fast.length === text.length / 2) return new Uint8Array(fast); // a copy: never a view of a shared pool
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(text, 2 * i);
    const lo = nibble(text, 2 * i + 1);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function nibble(text: string, at: number): number {
  const c = text.charCodeAt(at);
  const v = c > 255 ? -1 : NIBBLE[c]!;
  if (v < 0) throw new HashError(`invalid base-16 hash '${text}': character '${text[at]}' at offset ${at}`);
  return v;
}
