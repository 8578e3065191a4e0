/**
 * A connection's outgoing side: fields are written into one buffer and sent
 * as a single write when a reply is complete, or soon after a log message
 * (several messages in one tick travel together).
 */
import { WireWriter } from "../wire/writer.ts";
import type { Transport } from "./transport.ts";

/** Bytes buffered before a send is forced (a large reply is sent in pieces of about this size). */
const SEND_ABOVE = 256 << 10;

export class Output {
  readonly writer = new WireWriter();
  private scheduled = false;
  private sending: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(private readonly transport: Transport) {}

  /** Bytes written but not yet taken by the peer (a client that reads slowly makes it grow). */
  get backlog(): number {
    return this.writer.size + (this.transport.backlog ?? 0);
  }

  /** Sends everything written so far; resolves once the kernel has it. */
  send(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.writer.size === 0) return this.sending;
    const bytes = this.writer.take();
    this.sending = this.transport.write(bytes).catch((error: Error) => {
      this.failure ??= error;
      throw error;
    });
    return this.sending;
  }

  /** Sends soon (log messages); never throws: a broken connection shows on the next `send`. */
  sendSoon(): void {
    if (this.writer.size >= SEND_ABOVE) {
      this.send().catch(() => {});
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send().catch(() => {});
    });
  }

  /** Sends when enough is buffered, waiting for the peer to take it (bulk data). */
  async sendIfFull(): Promise<void> {
    if (this.writer.size >= SEND_ABOVE) await this.send();
  }
}
