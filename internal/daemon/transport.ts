/**
 * The byte streams a connection runs over: an accepted Unix socket (many at
 * once, on the event loop) or stdin/stdout (`--stdio`, one connection).
 * Reading is pulled by the protocol code; a peer that sends faster than we
 * consume is paused, and writes wait when the peer reads slowly, so memory
 * stays flat in both directions.
 */
import type { Socket } from "bun";
import { writeAllSync } from "../stream/fd-write.ts";

export interface Transport {
  /** Incoming bytes; ends when the peer closes its side. */
  readonly incoming: AsyncIterable<Uint8Array>;
  /** Queues bytes for the peer, in order; the promise settles once they are handed to the kernel. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the connection (pending output is dropped). */
  close(): void;
  /** Aborted when the peer hangs up (long operations such as builds stop then). */
  readonly hangUp?: AbortSignal;
  /** Bytes handed to `write` that the peer has not taken yet. */
  readonly backlog?: number;
}

/** Incoming bytes above which a socket is paused until the reader catches up. */
const PAUSE_ABOVE = 4 << 20;

export class ConnectionClosedError extends Error {
  constructor() {
    super("the connection was closed by the peer");
  }
}

/** Glue between Bun's socket callbacks and a pull reader. Handlers call `received`, `drained`, `peerClosed`. */
export class SocketTransport implements Transport {
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private paused = false;
  private ended = false;
  private waiter: ((result: IteratorResult<Uint8Array>) => void) | undefined;
  private pending: Uint8Array[] = [];
  private flushed: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private closed = false;
  private readonly hungUp = new AbortController();

  constructor(private readonly socket: Socket<unknown>) {}

  get hangUp(): AbortSignal {
    return this.hungUp.signal;
  }

  get backlog(): number {
    let bytes = 0;
    for (const chunk of this.pending) bytes += chunk.length;
    return bytes;
  }

  received(chunk: Uint8Array): void {
    const waiter = this.waiter;
    if (waiter !== undefined) {
      // The reader is waiting: hand the chunk over directly.
      this.waiter = undefined;
      waiter({ done: false, value: chunk });
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > PAUSE_ABOVE && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  peerClosed(): void {
    this.ended = true;
    this.closed = true;
    this.hungUp.abort();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.({ done: true, value: undefined });
    for (const waiter of this.flushed.splice(0)) waiter.reject(new ConnectionClosedError());
  }

  get incoming(): AsyncIterable<Uint8Array> {
    // A plain iterator rather than an async generator: one promise per chunk, no generator machinery.
    const iterator: AsyncIterator<Uint8Array> = { next: () => this.nextChunk() };
    return { [Symbol.asyncIterator]: () => iterator };
  }

  private nextChunk(): Promise<IteratorResult<Uint8Array>> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.queuedBytes -= chunk.length;
      if (this.paused && this.queuedBytes < PAUSE_ABOVE / 2) {
        this.paused = false;
        this.socket.resume();
      }
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new ConnectionClosedError());
    if (this.pending.length === 0) {
      const n = this.socket.write(bytes);
      if (n < 0) return Promise.reject(new ConnectionClosedError());
      if (n === bytes.length) return Promise.resolve();
      this.pending.push(bytes.subarray(n));
    } else {
      this.pending.push(bytes);
    }
    return new Promise((resolve, reject) => this.flushed.push({ resolve, reject }));
  }

  /** The socket can take more: send what is pending. */
  drained(): void {
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      const n = this.socket.write(head);
      if (n < 0) return this.peerClosed();
      if (n < head.length) {
        this.pending[0] = head.subarray(n);
        return;
      }
      this.pending.shift();
    }
    for (const waiter of this.flushed.splice(0)) waiter.resolve();
  }

  close(): void {
    this.closed = true;
    this.socket.end();
  }
}

/** stdin/stdout of `bunix daemon --stdio`. */
export class StdioTransport implements Transport {
  get incoming(): AsyncIterable<Uint8Array> {
    const stream = Bun.stdin.stream();
    return {
      async *[Symbol.asyncIterator]() {
        const reader = stream.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          if (value.length > 0) yield value;
        }
      },
    };
  }

  write(bytes: Uint8Array): Promise<void> {
    try {
      writeAllSync(1, bytes);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  close(): void {
    // The process ends with the connection.
  }
}
