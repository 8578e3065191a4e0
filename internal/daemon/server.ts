/**
 * The daemon: one process serving every connection on the event loop (a
 * slow client only waits for itself), on a Unix socket or on stdin/stdout.
 * Peers are identified with SO_PEERCRED and admitted or refused before a
 * byte is sent (worker-protocol.md 1.1, 7).
 */
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Socket, UnixSocketListener } from "bun";
import { peerCredentials } from "../../ffi/sockets.ts";
import { SystemError } from "../errors.ts";
import type { Settings } from "../settings/settings.ts";
import type { LocalStore } from "../store/local-store.ts";
import { WriteQueue } from "../store/write-queue.ts";
import { Connection, type DaemonState, type OpTable } from "./connection.ts";
import { activityIds } from "./logger.ts";
import { operations } from "./ops/index.ts";
import { admit, identifyPeer } from "./trust.ts";
import { SocketTransport, StdioTransport } from "./transport.ts";

export interface DaemonOptions {
  store: LocalStore;
  settings: Settings;
  /** Where the daemon's own messages go (its stderr). */
  note: (message: string) => void;
}

interface SocketData {
  transport?: SocketTransport;
}

export class Daemon {
  private readonly state: DaemonState;
  private readonly ops: OpTable = operations();
  private listener: UnixSocketListener<SocketData> | undefined;
  private readonly connections = new Set<Promise<void>>();

  constructor(private readonly options: DaemonOptions) {
    // Registrations of all connections share one queue: one transaction per turn of the event loop.
    // BUNIX_DEBUG_WRITE_QUEUE=1 logs each batch (tests count them).
    const logBatches = process.env.BUNIX_DEBUG_WRITE_QUEUE === "1";
    options.store.writeQueue ??= new WriteQueue(options.store.db, logBatches ? (jobs) => options.note(`write queue: committed ${jobs} job(s) in one transaction`) : undefined);
    let count = 0;
    this.state = {
      settings: options.settings,
      store: options.store,
      ids: activityIds(),
      nextConnectionNumber: () => ++count,
      note: options.note,
    };
  }

  /** Listens on `socketPath` (parents created, a stale socket replaced, mode 0666). */
  listen(socketPath: string): void {
    try {
      mkdirSync(dirname(socketPath), { recursive: true });
      rmSync(socketPath, { force: true });
    } catch (error) {
      throw new SystemError(`preparing the daemon socket '${socketPath}'`, error);
    }
    this.listener = Bun.listen<SocketData>({
      unix: socketPath,
      socket: {
        open: (socket) => this.accept(socket),
        data: (socket, chunk) => socket.data.transport?.received(chunk),
        drain: (socket) => socket.data.transport?.drained(),
        close: (socket) => socket.data.transport?.peerClosed(),
        end: (socket) => socket.data.transport?.peerClosed(),
        error: (socket) => socket.data.transport?.peerClosed(),
      },
    });
    try {
      chmodSync(socketPath, 0o666);
    } catch (error) {
      throw new SystemError(`setting the mode of '${socketPath}'`, error);
    }
  }

  private accept(socket: Socket<SocketData>): void {
    socket.data = {};
    let peer;
    try {
      // `fd` exists at run time but is missing from bun-types.
      const credentials = peerCredentials((socket as unknown as { fd: number }).fd);
      peer = identifyPeer(credentials.pid, credentials.uid, credentials.gid);
    } catch (error) {
      this.options.note(`error processing connection: cannot read the peer's credentials: ${(error as Error).message}`);
      socket.terminate();
      return;
    }
    const admission = admit(this.options.settings, peer);
    if (!admission.allowed) {
      this.options.note(`error processing connection: ${admission.reason}`);
      socket.terminate();
      return;
    }
    this.options.note(`accepted connection from pid ${peer.pid}, user ${peer.user}${admission.trusted ? " (trusted)" : ""}`);
    const transport = new SocketTransport(socket);
    socket.data.transport = transport;
    this.track(new Connection(this.state, transport, peer, admission.trusted, this.ops).serve());
  }

  private track(served: Promise<void>): void {
    this.connections.add(served);
    void served.finally(() => this.connections.delete(served));
  }

  /** Serves the single connection on stdin/stdout (trusted), returning when it ends. */
  async serveStdio(): Promise<void> {
    await new Connection(this.state, new StdioTransport(), undefined, true, this.ops).serve();
  }

  /** Stops accepting; open connections are closed. */
  stop(): void {
    this.listener?.stop(true);
    this.listener = undefined;
  }

  /** Resolves when every connection has ended. */
  async idle(): Promise<void> {
    while (this.connections.size > 0) await Promise.all([...this.connections]);
  }
}
