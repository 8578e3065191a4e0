/**
 * A garbage-collection session (store-layout.md 4.4, 5.4): the exclusive
 * `gc.lock`, which stops new temporary roots from being written to files,
 * and the roots server on `gc-socket/socket`, through which processes that
 * find the lock taken (real Nix or bunix) announce new temporary roots.
 * Temporary roots protect by hash part, so `<path>.lock` or `.chroot`
 * entries of a rooted path are protected too.
 *
 * The server runs on the event loop: deletion loops must `await` between
 * paths, and must check `isTempRoot` right before deleting each one. A
 * process holding a session must not add temporary roots through TempRoots
 * (it would wait on its own lock): it is the collector.
 */
import { chmodSync, closeSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Socket, UnixSocketListener } from "bun";
import { lockFd, openLockFile, tryLockFd } from "../store/locks.ts";
import { HASH_PART_LENGTH } from "../store-path/store-path.ts";
import { readTempRoots } from "./temp-roots.ts";

interface ClientState {
  buffer: string;
}

export class GcSession {
  private readonly tempRootHashes = new Set<string>();
  /** Which process holds each temporary root, for messages. */
  private readonly tempRootOwners = new Map<string, string>();

  private constructor(
    private readonly lockFdNumber: number,
    private readonly server: UnixSocketListener<ClientState>,
  ) {}

  /** Takes gc.lock exclusively (waiting if needed), starts the roots server, reads temporary roots. */
  static async start(stateDir: string, storeDir: string): Promise<GcSession> {
    const lockFile = join(stateDir, "gc.lock");
    const fd = openLockFile(lockFile);
    if (!tryLockFd(fd, "exclusive", lockFile)) {
      process.stderr.write("waiting for the big garbage collector lock...\n");
      lockFd(fd, "exclusive", lockFile);
    }
    const socketPath = join(stateDir, "gc-socket", "socket");
    mkdirSync(dirname(socketPath), { recursive: true });
    rmSync(socketPath, { force: true });
    let session: GcSession | undefined;
    const server = Bun.listen<ClientState>({
      unix: socketPath,
      socket: {
        open(socket) {
          socket.data = { buffer: "" };
        },
        data(socket: Socket<ClientState>, chunk) {
          socket.data.buffer += Buffer.from(chunk).toString("latin1");
          for (let nl = socket.data.buffer.indexOf("\n"); nl >= 0; nl = socket.data.buffer.indexOf("\n")) {
            const line = socket.data.buffer.slice(0, nl);
            socket.data.buffer = socket.data.buffer.slice(nl + 1);
            session?.addRoot(line, storeDir, "{socket}");
            socket.write("1");
          }
        },
      },
    });
    chmodSync(socketPath, 0o666);
    session = new GcSession(fd, server);
    for (const root of readTempRoots(stateDir)) session.addRoot(root.path, storeDir, `{temp:${root.pid}}`);
    return session;
  }

  private addRoot(path: string, storeDir: string, owner: string): void {
    const prefix = `${storeDir}/`;
    if (!path.startsWith(prefix)) return;
    const hashPart = path.slice(prefix.length, prefix.length + HASH_PART_LENGTH);
    if (hashPart.length !== HASH_PART_LENGTH) return;
    this.tempRootHashes.add(hashPart);
    if (!this.tempRootOwners.has(hashPart)) this.tempRootOwners.set(hashPart, owner);
  }

  /** Whether a running process has claimed this hash part (check right before deleting). */
  isTempRoot(hashPart: string): boolean {
    return this.tempRootHashes.has(hashPart);
  }

  /** Every hash part claimed so far. */
  tempRootHashParts(): IterableIterator<string> {
    return this.tempRootHashes.values();
  }

  /** "{temp:PID}" or "{socket}" for the process holding the hash part. */
  tempRootOwner(hashPart: string): string | undefined {
    return this.tempRootOwners.get(hashPart);
  }

  /** Lets the roots server answer pending requests. */
  async yieldToClients(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  close(): void {
    this.server.stop(true);
    closeSync(this.lockFdNumber);
  }
}
