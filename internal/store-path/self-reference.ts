/**
 * Hash modulo self references (formats.md 2.6), for content-addressed objects
 * that contain their own (temporary) hash part: every occurrence of the old
 * hash part in the NAR is hashed as 32 NUL bytes, then "|<offset>" is hashed
 * for each occurrence. Streaming: a match spanning two chunks is found by
 * carrying the last 31 bytes over.
 */
import type { Hash } from "../hash/hash.ts";
import { createHasher } from "../hash/hasher.ts";
import { HASH_PART_LENGTH, StorePathError } from "./store-path.ts";

export interface SelfReferenceHash {
  hash: Hash;
  /** Offsets of the hash part in the NAR (non-overlapping, left to right). */
  offsets: number[];
}

export function hashModuloSelfReferences(nar: Iterable<Uint8Array>, oldHashPart: string): SelfReferenceHash {
  if (oldHashPart.length !== HASH_PART_LENGTH) throw new StorePathError(`'${oldHashPart}' is not a store path hash part`);
  const needle = Buffer.from(oldHashPart, "latin1");
  const zeros = new Uint8Array(HASH_PART_LENGTH);
  const hasher = createHasher("sha256");
  const offsets: number[] = [];
  let pending: Buffer = Buffer.alloc(0); // bytes not yet hashed (less than a needle, or the current chunk)
  let pendingStart = 0; // NAR offset of pending[0]
  for (const chunk of nar) {
    const window = pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : Buffer.concat([pending, chunk]);
    let from = 0;
    for (let at = window.indexOf(needle); at >= 0; at = window.indexOf(needle, at + HASH_PART_LENGTH)) {
      hasher.update(window.subarray(from, at));
      hasher.update(zeros);
      offsets.push(pendingStart + at);
      from = at + HASH_PART_LENGTH;
    }
    // Keep the tail that could start a match completing in the next chunk.
    const keep = Math.max(from, window.length - (HASH_PART_LENGTH - 1));
    hasher.update(window.subarray(from, keep));
    pending = Buffer.from(window.subarray(keep));
    pendingStart += keep;
  }
  hasher.update(pending);
  for (const offset of offsets) hasher.update(new TextEncoder().encode(`|${offset}`));
  return { hash: hasher.finish(), offsets };
}
