/**
 * A buffered pull reader over any stream of chunks (a file, stdin, a socket).
 * Format readers (NAR, export streams, wire protocols) consume it token by
 * token; it never holds more than one incoming chunk plus one token.
 *
 * Views returned by `readExact` and `readSome` are only valid until the next
 * call: copy them if they must live longer.
 */
import { BunixError } from "../errors.ts";
import { fdChunks, fdChunksOfFile } from "./file-chunks.ts";

export class UnexpectedEndError extends BunixError {
  override name = "UnexpectedEndError";
  constructor(readonly offset: number) {
    super(`unexpected end-of-file at byte ${offset}`);
  }
}

export interface ByteSource {
  /** Bytes consumed so far. */
  readonly position: number;
  /**
   * Calls `tap` with every byte range as it is consumed, e.g. to hash a NAR
   * while parsing it; undefined removes the tap.
   */
  setTap(tap: ((bytes: Uint8Array) => void) | undefined): void;
  /** Exactly `n` bytes, or UnexpectedEndError. */
  readExact(n: number): Promise<Uint8Array>;
  /** Between 1 and `max` bytes, or UnexpectedEndError. */
  readSome(max: number): Promise<Uint8Array>;
  /** True when no byte is left. */
  atEnd(): Promise<boolean>;
  /** Bytes that can be taken right now, without waiting for more input. */
  readonly buffered: number;
  /** `n` bytes at `offset` past the read position, if buffered; nothing is consumed. */
  peekBuffered(offset: number, n: number): Uint8Array | undefined;
  /** Exactly `n` bytes if they are buffered (consumed), else undefined (nothing consumed). */
  takeBuffered(n: number): Uint8Array | undefined;
}

type ChunkIterator = AsyncIterator<Uint8Array> | Iterator<Uint8Array>;

export class ChunkSource implements ByteSource {
  private chunk: Uint8Array = new Uint8Array(0);
  private offset = 0;
  private consumed = 0;
  private scratch = new Uint8Array(256);
  private done = false;
  private readonly chunks: ChunkIterator;
  private tap: ((bytes: Uint8Array) => void) | undefined;

  constructor(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.chunks = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : (chunks as Iterable<Uint8Array>)[Symbol.iterator]();
  }

  get position(): number {
    return this.consumed;
  }

  setTap(tap: ((bytes: Uint8Array) => void) | undefined): void {
    this.tap = tap;
  }

  /** Pulls chunks until one with unread bytes arrives; false at the end. */
  private async fill(): Promise<boolean> {
    while (this.offset >= this.chunk.length) {
      if (this.done) return false;
      const next = await this.chunks.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      this.chunk = next.value;
      this.offset = 0;
    }
    return true;
  }

  async readExact(n: number): Promise<Uint8Array> {
    const available = this.chunk.length - this.offset;
    if (available >= n) {
      const view = this.chunk.subarray(this.offset, this.offset + n);
      this.offset += n;
      this.consumed += n;
      this.tap?.(view);
      return view;
    }
    if (this.scratch.length < n) this.scratch = new Uint8Array(Math.max(n, this.scratch.length * 2));
    let filled = 0;
    while (filled < n) {
      if (!(await this.fill())) throw new UnexpectedEndError(this.consumed);
      const take = Math.min(n - filled, this.chunk.length - this.offset);
      const piece = this.chunk.subarray(this.offset, this.offset + take);
      this.tap?.(piece);
      this.scratch.set(piece, filled);
      this.offset += take;
      this.consumed += take;
      filled += take;
    }
    return this.scratch.subarray(0, n);
  }

  get buffered(): number {
    return this.chunk.length - this.offset;
  }

  peekBuffered(offset: number, n: number): Uint8Array | undefined {
    const start = this.offset + offset;
    return start + n <= this.chunk.length ? this.chunk.subarray(start, start + n) : undefined;
  }

  takeBuffered(n: number): Uint8Array | undefined {
    if (this.chunk.length - this.offset < n) return undefined;
    const view = this.chunk.subarray(this.offset, this.offset + n);
    this.offset += n;
    this.consumed += n;
    this.tap?.(view);
    return view;
  }

  async readSome(max: number): Promise<Uint8Array> {
    if (!(await this.fill())) throw new UnexpectedEndError(this.consumed);
    const take = Math.min(max, this.chunk.length - this.offset);
    const view = this.chunk.subarray(this.offset, this.offset + take);
    this.offset += take;
    this.consumed += take;
    this.tap?.(view);
    return view;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }
}

/** A ByteSource over a file (or "-" for stdin). The file is closed at the end. */
export function fileSource(path: string): ChunkSource {
  return new ChunkSource(path === "-" ? fdChunks(0) : fdChunksOfFile(path));
}

/** A ByteSource over an in-memory buffer (tests, small inputs). */
export function bytesSource(bytes: Uint8Array): ChunkSource {
  return new ChunkSource([bytes]);
}
