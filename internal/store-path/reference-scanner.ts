/**
 * Finds which of a set of store path hash parts occur in a byte stream
 * (formats.md 6.6): any 32-byte window equal to a candidate's hash part,
 * anywhere, including across chunk boundaries. A window with a byte outside
 * the base-32 alphabet cannot match, which lets the scan skip ahead.
 */
import { NIX_BASE32_ALPHABET } from "../hash/base32.ts";
import { HASH_PART_LENGTH } from "./store-path.ts";

const IS_BASE32 = new Uint8Array(256);
for (const c of NIX_BASE32_ALPHABET) IS_BASE32[c.charCodeAt(0)] = 1;

export class ReferenceScanner {
  private readonly candidates: Set<string>;
  private readonly seen = new Set<string>();
  /** The last bytes of the previous chunk, which may start a match. */
  private carry = Buffer.alloc(0);

  constructor(hashParts: Iterable<string>) {
    this.candidates = new Set(hashParts);
  }

  update(chunk: Uint8Array): void {
    if (this.candidates.size === this.seen.size) return;
    const data = this.carry.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : Buffer.concat([this.carry, chunk]);
    const last = data.length - HASH_PART_LENGTH;
    let i = 0;
    while (i <= last) {
      // The rightmost non-base-32 byte of the window, if any, rules out every window containing it.
      let j = i + HASH_PART_LENGTH - 1;
      while (j >= i && IS_BASE32[data[j]!]) j--;
      if (j >= i) {
        i = j + 1;
        continue;
      }
      // A run of base-32 text: slide one byte at a time, checking only the new byte.
      for (;;) {
        const key = data.toString("latin1", i, i + HASH_PART_LENGTH);
        if (this.candidates.has(key)) this.seen.add(key);
        i++;
        if (i > last) break;
        if (!IS_BASE32[data[i + HASH_PART_LENGTH - 1]!]) {
          i += HASH_PART_LENGTH;
          break;
        }
      }
    }
    const keep = Math.min(data.length, HASH_PART_LENGTH - 1);
    this.carry = Buffer.from(data.subarray(data.length - keep));
  }

  /** Hash parts found so far. */
  found(): Set<string> {
    return new Set(this.seen);
  }
}
