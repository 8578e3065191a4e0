/**
 * Framed streams (worker-protocol.md 2.15): `u64 len` + `len` bytes, repeated,
 * ended by `u64 0`; no padding. Used for bulk data from client to daemon.
 */
import { WireError } from "./errors.ts";
import type { WireReader } from "./reader.ts";

/** The largest piece handed on at a time; frames of any length are accepted. */
const PIECE = 64 << 10;

/**
 * The payload of a framed stream as chunks. Each chunk is valid until the
 * next one is requested. After an error the rest must still be consumed
 * (`drain`) so that the connection stays in sync.
 */
export class FramedSource implements AsyncIterable<Uint8Array> {
  private left = 0;
  private ended = false;
  private consumed = 0;

  constructor(private readonly reader: WireReader) {}

  /** Payload bytes read so far. */
  get position(): number {
    return this.consumed;
  }

  get finished(): boolean {
    return this.ended;
  }

  /** The next piece of payload, or undefined at the end of the stream. */
  async next(): Promise<Uint8Array | undefined> {
    if (this.ended) return undefined;
    if (this.left === 0) {
      this.left = await this.reader.u64("a frame length");
      if (this.left === 0) {
        this.ended = true;
        return undefined;
      }
    }
    const piece = await this.reader.source.readSome(Math.min(this.left, PIECE));
    this.left -= piece.length;
    this.consumed += piece.length;
    return piece;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (let piece = await this.next(); piece !== undefined; piece = await this.next()) yield piece;
  }

  /** Reads and discards whatever is left, up to the terminating empty frame. */
  async drain(): Promise<void> {
    while ((await this.next()) !== undefined);
  }

  /** Fails unless the payload has been read to its end (nothing may follow what was parsed). */
  async expectEnd(what: string): Promise<void> {
    const at = this.reader.position;
    if ((await this.next()) !== undefined) throw new WireError(`unexpected data after ${what}`, at);
  }
}

/** Splits bytes into frames (client side: tests, benchmarks). */
export function frame(payload: Uint8Array, frameSize = 32 << 10): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < payload.length; at += frameSize) {
    const piece = payload.subarray(at, Math.min(payload.length, at + frameSize));
    const header = new Uint8Array(8);
    new DataView(header.buffer).setUint32(0, piece.length, true);
    out.push(header, piece);
  }
  out.push(new Uint8Array(8));
  return out;
}
