/**
 * One client connection: the handshake (worker-protocol.md 4), then
 * requests served strictly in order until the client hangs up. A failing
 * operation is reported to the client and the connection goes on; a
 * request that cannot even be parsed, or an unknown operation, ends the
 * connection (8.2, 8.3), and never the daemon.
 */
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Settings } from "../settings/settings.ts";
import type { LocalStore } from "../store/local-store.ts";
import { TempRoots } from "../store/temp-roots.ts";
import type { StorePath } from "../store-path/store-path.ts";
import { ChunkSource, UnexpectedEndError } from "../stream/byte-source.ts";
import { WireReader } from "../wire/reader.ts";
import {
  NIX_VERSION,
  OLDEST_CLIENT_VERSION,
  PROTOCOL_VERSION,
  WORKER_MAGIC_1,
  WORKER_MAGIC_2,
  majorOf,
  minorOf,
} from "../wire/worker-protocol.ts";
import { clientErrorOf } from "./errors.ts";
import { type ActivityIds, Logger } from "./logger.ts";
import { Output } from "./output.ts";
import type { Peer } from "./trust.ts";
import type { Transport } from "./transport.ts";

/** What every connection of one daemon shares. */
export interface DaemonState {
  /** The daemon's settings (nix.conf and its command line); each connection works on a copy. */
  readonly settings: Settings;
  /** The store handle shared by all connections (one database connection). */
  readonly store: LocalStore;
  readonly ids: ActivityIds;
  /** Numbers connections, for their temporary-roots files. */
  nextConnectionNumber(): number;
  /** The daemon's own log (its stderr). */
  note(message: string): void;
}

/** An operation's implementation: reads its request, does the work, writes its reply. */
export type OpHandler = (connection: Connection) => Promise<void>;

export interface OpTable {
  get(code: number): { name: string; run: OpHandler } | undefined;
}

/** How long an aborted connection waits for its client to hang up, dropping what it sends. */
const ABORT_LINGER_MS = 5_000;

/** Ends the connection after the current reply (the peer broke the protocol). */
export class ConnectionAbort extends Error {}

export class Connection {
  readonly reader: WireReader;
  readonly out: Output;
  readonly settings: Settings;
  readonly store: LocalStore;
  logger!: Logger;
  clientVersion = 0;
  minor = 0;
  /** The op being served, for messages. */
  currentOp = "";

  constructor(
    readonly daemon: DaemonState,
    private readonly transport: Transport,
    /** Undefined for --stdio, whose peer is trusted by definition. */
    readonly peer: Peer | undefined,
    readonly trusted: boolean,
    private readonly ops: OpTable,
  ) {
    this.reader = new WireReader(new ChunkSource(transport.incoming));
    this.out = new Output(transport);
    this.settings = daemon.settings.clone();
    const roots = new TempRoots(daemon.store.stateDir, `${process.pid}-${daemon.nextConnectionNumber()}`);
    this.store = daemon.store.view(this.settings, roots);
  }

  /** Serves the connection to its end; never throws. */
  async serve(): Promise<void> {
    try {
      if (!(await this.handshake())) return;
      while (await this.serveOne());
    } catch (error) {
      if (!(error instanceof UnexpectedEndError)) this.daemon.note(`error processing connection: ${(error as Error).message}`);
    } finally {
      this.store.close();
      this.transport.close();
    }
  }

  private async handshake(): Promise<boolean> {
    const magic = await this.reader.u64("the protocol magic").catch(() => -1);
    if (magic !== WORKER_MAGIC_1) return false;
    this.out.writer.u64(WORKER_MAGIC_2).u64(PROTOCOL_VERSION);
    await this.out.send();
    this.clientVersion = await this.reader.u32("the client version");
    if (majorOf(this.clientVersion) !== majorOf(PROTOCOL_VERSION) || this.clientVersion < OLDEST_CLIENT_VERSION) {
      this.daemon.note("error processing connection: the Nix client version is too old");
      return false;
    }
    this.minor = Math.min(minorOf(this.clientVersion), minorOf(PROTOCOL_VERSION));
    if (this.minor >= 14 && (await this.reader.u64("the CPU affinity flag")) !== 0) await this.reader.u64("the CPU affinity");
    if (this.minor >= 11) await this.reader.u64("the obsolete reserveSpace flag");
    if (this.minor >= 33) this.out.writer.text(NIX_VERSION);
    this.logger = new Logger(this.out, this.minor, this.daemon.ids);
    this.logger.startWork();
    try {
      if (this.peer) this.createUserDirectories(this.peer);
    } catch (error) {
      this.logger.failWork(clientErrorOf(error));
      await this.out.send();
      return false;
    }
    this.logger.finishWork();
    await this.out.send();
    return true;
  }

  /** Per-user profile and GC-root directories: mode 0755, owned by the user and the daemon's group, as 2.8 makes them (store-layout.md 2). */
  private createUserDirectories(peer: Peer): void {
    for (const base of ["profiles", "gcroots"]) {
      const dir = join(this.store.stateDir, base, "per-user", peer.user);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(dir, 0o755);
      if (process.geteuid?.() === 0) chownSync(dir, peer.uid, process.getgid?.() ?? 0);
    }
  }

  /** Serves one request; false when the connection is over. */
  private async serveOne(): Promise<boolean> {
    let code: number;
    try {
      code = await this.reader.u32("an operation code");
    } catch (error) {
      if (error instanceof UnexpectedEndError) return false;
      throw error;
    }
    const op = this.ops.get(code);
    if (!op) {
      await this.abort(`invalid operation ${code}`);
      return false;
    }
    this.currentOp = op.name;
    try {
      await op.run(this);
    } catch (error) {
      if (error instanceof UnexpectedEndError) return false;
      if (!this.logger.inProgress || error instanceof ConnectionAbort) {
        await this.abort(clientErrorOf(error).message);
        return false;
      }
      this.logger.failWork(clientErrorOf(error));
    }
    await this.out.send();
    return true;
  }

  /** An error outside an operation's stderr channel: sent twice (as by Nix's outer handler), then the end. */
  private async abort(message: string): Promise<void> {
    this.daemon.note(`error processing connection: ${message}`);
    if (!this.logger.inProgress) this.logger.startWork();
    this.logger.failWork({ message, exitStatus: 1 });
    this.logger.failWork({ message, exitStatus: 1 });
    await this.out.send().catch(() => {});
    await this.dropInputUntilHangUp();
  }

  /**
   * After an abort the client may still be sending the rest of its request.
   * Closing with unread input would make the kernel reset the connection, and
   * the client would see a broken pipe instead of the error just sent: so the
   * input is read and dropped until the client hangs up (for a bounded time).
   */
  private async dropInputUntilHangUp(): Promise<void> {
    const deadline = Date.now() + ABORT_LINGER_MS;
    let timer: Timer | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ABORT_LINGER_MS);
    });
    try {
      while (Date.now() < deadline) {
        const read = this.reader.source.readSome(1 << 16);
        read.catch(() => {}); // it may fail after the timeout won the race
        if ((await Promise.race([read, timeout])) === "timeout") return;
      }
    } catch {
      // the client hung up (or the connection failed): done
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs an operation's work inside its stderr channel (opened before, STDERR_LAST after). */
  async work<T>(body: () => T | Promise<T>): Promise<T> {
    this.logger.startWork();
    const result = await body();
    this.logger.finishWork();
    return result;
  }

  /** A store path argument; a malformed one fails the request before its channel opens. */
  async readPath(what: string): Promise<StorePath> {
    return this.store.parse(await this.reader.latin1(what));
  }

  async readPaths(what: string): Promise<StorePath[]> {
    return (await this.reader.latin1List(what)).map((p) => this.store.parse(p));
  }

  /** Sets of paths go out sorted. */
  writePaths(paths: Iterable<StorePath>): void {
    this.out.writer.latin1Set([...paths].map((p) => this.store.print(p)));
  }

  /** Aborted when the client hangs up (never for --stdio, whose end is the process's). */
  get hangUp(): AbortSignal {
    return this.transport.hangUp ?? new AbortController().signal;
  }

  /** Fails unless the client is trusted. */
  requireTrusted(message: string): void {
    if (!this.trusted) throw new UntrustedError(message);
  }
}

export class UntrustedError extends Error {}
