/**
 * RFC 4648 base-64 with padding. The decoder follows Nix 2.8 (formats.md 1.4):
 * it stops at the first '=', skips '\n', and rejects any other stray character.
 */
import { HashError } from "./algorithm.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

export function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

export function decodeBase64(text: string): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "=") break;
    if (ch === "\n") continue;
    const c = text.charCodeAt(i);
    const v = c > 255 ? -1 : VALUE[c]!;
    if (v < 0) throw new HashError(`invalid base-64 hash '${text}': character '${ch}' at offset ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}
