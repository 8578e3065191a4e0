/**
 * Small objects skip the staging directory. Most adds through the daemon
 * are a few kilobytes (a .drv, a source file): up to SMALL_OBJECT_BYTES the
 * data is taken into memory, its path computed, and the object written
 * straight to that path under its lock, as Nix does with small dumps. That
 * saves a directory creation, a rename, a removal and a temporary root per
 * add (see staging.ts installDirect). Larger data keeps streaming through
 * staging with flat memory.
 */
import { type ByteSource, ChunkSource } from "../stream/byte-source.ts";

/** Bounded per add (and so per connection): 1 MiB. */
export const SMALL_OBJECT_BYTES = 1 << 20;

export type Taken = { whole: Uint8Array } | { replay: AsyncIterable<Uint8Array> };

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * Reads `chunks` whole if they hold at most `limit` bytes; otherwise gives
 * back a stream that replays what was read, then the rest.
 */
export async function takeSmall(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, limit = SMALL_OBJECT_BYTES): Promise<Taken> {
  const iterator = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : (chunks as Iterable<Uint8Array>)[Symbol.iterator]();
  const taken: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { whole: concat(taken, size) };
    taken.push(next.value.slice());
    size += next.value.length;
    if (size > limit) break;
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* taken.splice(0);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { replay: replay() };
}

/** As takeSmall, for a byte source read to its end (a framed payload). */
export async function takeSmallSource(source: ByteSource, limit = SMALL_OBJECT_BYTES): Promise<{ whole: Uint8Array } | { replay: ChunkSource }> {
  async function* pieces(): AsyncGenerator<Uint8Array> {
    while (!(await source.atEnd())) yield await source.readSome(1 << 16);
  }
  const taken = await takeSmall(pieces(), limit);
  return "whole" in taken ? taken : { replay: new ChunkSource(taken.replay) };
}
