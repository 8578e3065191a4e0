/**
 * A small worker-protocol client: handshake, SetOptions and single
 * operations with their stderr messages collected. Used to talk to a daemon
 * (ours or Nix's) where no Nix command fits: protocol tests, benchmarks.
 */
import type { Socket } from "bun";
import { BunixError } from "../errors.ts";
import { ChunkSource } from "../stream/byte-source.ts";
import { WireReader } from "../wire/reader.ts";
import { PROTOCOL_VERSION, Stderr, WORKER_MAGIC_1, WORKER_MAGIC_2, minorOf, type LogField } from "../wire/worker-protocol.ts";
import { readFields } from "../wire/worker-types.ts";
import { WireWriter } from "../wire/writer.ts";
import { SocketTransport } from "./transport.ts";

export type StderrMessage =
  | { kind: "next"; text: string }
  | { kind: "start"; id: bigint; level: number; type: number; text: string; fields: LogField[]; parent: bigint }
  | { kind: "stop"; id: bigint }
  | { kind: "result"; id: bigint; type: number; fields: LogField[] }
  | { kind: "read"; count: number }
  | { kind: "write"; data: Uint8Array };

/** The daemon answered an operation with STDERR_ERROR. */
export class RemoteError extends BunixError {
  override name = "RemoteError";
  constructor(
    message: string,
    readonly exitStatus: number,
  ) {
    super(message);
  }
}

export class WorkerClient {
  readonly reader: WireReader;
  readonly writer = new WireWriter();
  daemonVersion = 0;
  /** The version this client announced (older versions for protocol tests). */
  clientVersion = PROTOCOL_VERSION;
  daemonNixVersion = "";
  /** Messages of the last operation. */
  messages: StderrMessage[] = [];

  private constructor(private readonly transport: SocketTransport) {
    this.reader = new WireReader(new ChunkSource(transport.incoming));
  }

  static async connect(socketPath: string, version = PROTOCOL_VERSION): Promise<WorkerClient> {
    let client: WorkerClient | undefined;
    const opened = Promise.withResolvers<void>();
    // A failed connect both rejects Bun.connect and calls connectError: one rejection is enough.
    opened.promise.catch(() => {});
    await Bun.connect<undefined>({
      unix: socketPath,
      socket: {
        open(socket: Socket<undefined>) {
          client = new WorkerClient(new SocketTransport(socket as Socket<unknown>));
          opened.resolve();
        },
        data: (_socket, chunk) => client?.transportOf().received(chunk),
        drain: () => client?.transportOf().drained(),
        close: () => client?.transportOf().peerClosed(),
        end: () => client?.transportOf().peerClosed(),
        connectError: (_socket, error) => opened.reject(error),
        error: () => client?.transportOf().peerClosed(),
      },
    });
    await opened.promise;
    await client!.handshake(version);
    return client!;
  }

  private transportOf(): SocketTransport {
    return this.transport;
  }

  get minor(): number {
    return Math.min(minorOf(this.daemonVersion), minorOf(this.clientVersion));
  }

  async send(): Promise<void> {
    await this.transport.write(this.writer.take());
  }

  private async handshake(version: number): Promise<void> {
    this.writer.u64(WORKER_MAGIC_1);
    await this.send();
    if ((await this.reader.u64("the magic")) !== WORKER_MAGIC_2) throw new BunixError("protocol mismatch");
    this.daemonVersion = await this.reader.u32("the daemon version");
    this.clientVersion = version;
    const minor = Math.min(minorOf(version), minorOf(this.daemonVersion));
    this.writer.u64(version);
    if (minor >= 14) this.writer.u64(0);
    if (minor >= 11) this.writer.u64(0);
    await this.send();
    if (minor >= 33) this.daemonNixVersion = await this.reader.text("the daemon's version");
    await this.readStderr();
  }

  /** Reads stderr messages up to STDERR_LAST (collected in `messages`); STDERR_ERROR throws RemoteError. */
  async readStderr(onRead?: (count: number) => Promise<void>): Promise<void> {
    this.messages = [];
    for (;;) {
      const code = await this.reader.u64("a stderr message code");
      switch (code) {
        case Stderr.last:
          return;
        case Stderr.next:
          this.messages.push({ kind: "next", text: await this.reader.text("a log line") });
          break;
        case Stderr.error:
          throw await this.readError();
        case Stderr.startActivity: {
          const id = await this.reader.u64Big("an activity id");
          const level = await this.reader.u64("a level");
          const type = await this.reader.u64("an activity type");
          const text = await this.reader.text("an activity text");
          const fields = await readFields(this.reader);
          const parent = await this.reader.u64Big("a parent id");
          this.messages.push({ kind: "start", id, level, type, text, fields, parent });
          break;
        }
        case Stderr.stopActivity:
          this.messages.push({ kind: "stop", id: await this.reader.u64Big("an activity id") });
          break;
        case Stderr.result: {
          const id = await this.reader.u64Big("an activity id");
          const type = await this.reader.u64("a result type");
          this.messages.push({ kind: "result", id, type, fields: await readFields(this.reader) });
          break;
        }
        case Stderr.read: {
          const count = await this.reader.u64("a read request");
          this.messages.push({ kind: "read", count });
          if (!onRead) throw new BunixError("the daemon asked for data (STDERR_READ) that this operation does not send");
          await onRead(count);
          break;
        }
        case Stderr.write:
          this.messages.push({ kind: "write", data: await this.reader.bytes("export data") });
          break;
        default:
          throw new BunixError(`unknown stderr message 0x${code.toString(16)}`);
      }
    }
  }

  private async readError(): Promise<RemoteError> {
    if (this.minor >= 26) {
      await this.reader.text("the error type");
      await this.reader.u64("the error level");
      await this.reader.text("the error name");
      const message = await this.reader.text("the error message");
      if ((await this.reader.u64("the position flag")) !== 0) throw new BunixError("error positions are not supported");
      const traces = await this.reader.count("traces");
      for (let i = 0; i < traces; i++) {
        await this.reader.u64("a trace position flag");
        await this.reader.text("a trace");
      }
      return new RemoteError(message, 1);
    }
    const message = await this.reader.text("the error text");
    return new RemoteError(message, await this.reader.u64("the exit status"));
  }

  /** SetOptions with defaults like a 2.8 client's, plus overrides. */
  async setOptions(overrides: ReadonlyArray<readonly [string, string]> = [], verbosity = 3): Promise<void> {
    this.writer.u64(19).u64(0).u64(0).u64(0).u64(verbosity).u64(1).u64(0).u64(1).u64(7).u64(0).u64(0).u64(0).u64(1);
    if (this.minor >= 12) {
      this.writer.u64(overrides.length);
      for (const [name, value] of [...overrides].sort(([a], [b]) => (a < b ? -1 : 1))) this.writer.text(name).text(value);
    }
    await this.send();
    await this.readStderr();
  }

  /** Sends an op with its fields (written by `write`), waits for STDERR_LAST; the caller reads the reply. */
  async op(code: number, write: (writer: WireWriter) => void = () => {}, onRead?: (count: number) => Promise<void>): Promise<WireReader> {
    this.writer.u64(code);
    write(this.writer);
    await this.send();
    await this.readStderr(onRead);
    return this.reader;
  }

  close(): void {
    this.transport.close();
  }
}
