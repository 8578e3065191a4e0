/**
 * A garbage-collection session (store-layout.md 4.4, 5.4): the exclusive
 * `gc.lock`, which stops new temporary roots from being written to files,
 * and the roots server on `gc-socket/socket`, through which processes that
 * find the lock taken (real Nix or bunix) announce new temporary roots.
 * Temporary roots protect by hash part, so `<path>.lock` or `.chroot`
 * entries of a rooted path are protected too.
 *
 * One process may serve many clients (the daemon), so a session never
 * blocks the event loop: sessions of this process run one at a time (an
 * async mutex), and gc.lock held by another process is waited for by
 * polling. Right after taking the lock, in the same synchronous step, the
 * session registers as this process's in-process collector: temporary
 * roots that this process's other clients add meanwhile (they cannot take
 * gc.lock shared, and must not wait for our own socket) come straight here
 * and count like socket roots.
 *
 * The server runs on the event loop: deletion loops must `await` between
 * paths, and must check `isTempRoot` right before deleting each one.
 */
import { chmodSync, closeSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Socket, UnixSocketListener } from "bun";
import { openLockFile, tryLockFd } from "../store/locks.ts";
import { setInProcessCollector } from "../store/temp-roots.ts";
import { SLICE_MS, type Sliced, yieldToEventLoop } from "../store/time-slices.ts";
import { HASH_PART_LENGTH } from "../store-path/store-path.ts";
import { readTempRoots } from "./temp-roots.ts";

interface ClientState {
  buffer: string;
}

/** Sessions of this process, one at a time, in the order they asked. */
class SessionMutex {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves with the release function once every earlier holder has released. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => mine);
    return previous.then(() => once(release));
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

const sessions = new SessionMutex();

/** How long to sleep between attempts at gc.lock held by another process (ms, growing). */
const LOCK_POLL_MAX_MS = 100;

export const WAITING_FOR_GC_LOCK = "waiting for the big garbage collector lock...";

export class GcSession {
  private readonly tempRootHashes = new Set<string>();
  /** Which process holds each temporary root, for messages. */
  private readonly tempRootOwners = new Map<string, string>();
  private server: UnixSocketListener<ClientState> | undefined;
  private closed = false;
  private sliceStart = performance.now();

  private constructor(
    private readonly lockFdNumber: number,
    private readonly storeDir: string,
    private readonly releaseMutex: () => void,
  ) {}

  /**
   * Takes gc.lock exclusively (waiting without blocking the event loop),
   * starts the roots server, reads temporary roots. `onWait` hears Nix's
   * "waiting for the big garbage collector lock..." when another process
   * holds it.
   */
  static async start(stateDir: string, storeDir: string, onWait: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<GcSession> {
    const release = await sessions.acquire();
    const lockFile = join(stateDir, "gc.lock");
    let fd: number;
    try {
      fd = openLockFile(lockFile);
    } catch (error) {
      release();
      throw error;
    }
    try {
      if (!tryLockFd(fd, "exclusive", lockFile)) {
        onWait(WAITING_FOR_GC_LOCK);
        for (let wait = 1; !tryLockFd(fd, "exclusive", lockFile); wait = Math.min(wait * 2, LOCK_POLL_MAX_MS)) await Bun.sleep(wait);
      }
    } catch (error) {
      closeSync(fd);
      release();
      throw error;
    }
    // Same synchronous step as the successful tryLock: no client of this process can slip in between.
    const session = new GcSession(fd, storeDir, release);
    setInProcessCollector((path) => session.addRoot(path, "{socket}"));
    try {
      session.listen(join(stateDir, "gc-socket", "socket"));
      for (const root of readTempRoots(stateDir)) session.addRoot(root.path, `{temp:${root.pid}}`);
    } catch (error) {
      session.close();
      throw error;
    }
    return session;
  }

  private listen(socketPath: string): void {
    mkdirSync(dirname(socketPath), { recursive: true });
    rmSync(socketPath, { force: true });
    const session = this;
    this.server = Bun.listen<ClientState>({
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
            session.addRoot(line, "{socket}");
            socket.write("1");
          }
        },
      },
    });
    chmodSync(socketPath, 0o666);
  }

  private addRoot(path: string, owner: string): void {
    const prefix = `${this.storeDir}/`;
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

  /** Lets the roots server answer pending requests (and, in the daemon, other clients be served). */
  async yieldToClients(): Promise<void> {
    await yieldToEventLoop();
    this.sliceStart = performance.now();
  }

  /** Whether the current slice of work has lasted long enough to give the event loop a turn. */
  private due(): boolean {
    return performance.now() - this.sliceStart >= SLICE_MS;
  }

  /**
   * Yields when the current slice of work has lasted long enough: for loops
   * whose steps are safe to interleave with other clients (e.g. emptying
   * the trash), so that a long collection keeps the process responsive.
   */
  async yieldIfDue(): Promise<void> {
    if (this.due()) await this.yieldToClients();
  }

  /** Runs a sliced computation (time-slices.ts), yielding to clients between slices. */
  async runSliced<T>(work: Sliced<T>): Promise<T> {
    for (;;) {
      const step = work.next();
      if (step.done) return step.value;
      if (this.due()) await this.yieldToClients();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Same synchronous step as the unlock: from now on, clients write their roots to files again.
    setInProcessCollector(undefined);
    this.server?.stop(true);
    closeSync(this.lockFdNumber);
    this.releaseMutex();
  }
}
