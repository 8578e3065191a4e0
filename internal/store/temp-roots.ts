/**
 * Temporary GC roots of this process (store-layout.md 4.4), shared with real
 * Nix: the file `temproots/<pid>` is held with an exclusive flock for the
 * life of the process and lists full store paths, each ending in NUL. Roots
 * are appended while holding `gc.lock` shared; when that fails, a collector
 * is running, and the root is sent to it over `gc-socket/socket` instead
 * ("<path>\n", answered by "1").
 */
import { closeSync, existsSync, fstatSync, mkdirSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ErrnoError } from "../../ffi/errno.ts";
import { close, connectUnix, readInto, writeAll } from "../../ffi/libc.ts";
import { BunixError, SystemError } from "../errors.ts";
import { lockFd, openLockFile, tryLockFd, unlockFd } from "./locks.ts";

/** Open files, closed (and removed) when the process exits. */
const openRoots = new Set<TempRoots>();
let exitHookInstalled = false;

/**
 * The collector running in this very process, if any (the daemon serves
 * GC requests on the event loop): roots go straight to it, since waiting
 * for our own gc.lock or socket would never end.
 */
let inProcessCollector: ((path: string) => void) | undefined;

export function setInProcessCollector(collector: ((path: string) => void) | undefined): void {
  inProcessCollector = collector;
}

export class TempRoots {
  private fd: number | undefined;
  private gcLockFd: number | undefined;
  private socketFd: number | undefined;
  private readonly file: string;
  private readonly added = new Set<string>();

  /**
   * `name` is the file's name in temproots/: the pid, as Nix names it, or
   * "<pid>-<n>" for the roots of one daemon connection (Nix's collector reads
   * the pid from the leading digits), which end with that connection.
   */
  constructor(
    private readonly stateDir: string,
    name = String(process.pid),
  ) {
    this.file = join(stateDir, "temproots", name);
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    mkdirSync(join(this.stateDir, "temproots"), { recursive: true });
    for (;;) {
      // A file with our pid must be a leftover of a dead process.
      if (existsSync(this.file)) unlinkSync(this.file);
      const fd = openLockFile(this.file);
      lockFd(fd, "exclusive", this.file);
      if (fstatSync(fd).size === 0) {
        this.fd = fd;
        openRoots.add(this);
        if (!exitHookInstalled) {
          exitHookInstalled = true;
          process.on("exit", () => {
            for (const roots of openRoots) roots.close();
          });
        }
        return fd;
      }
      closeSync(fd); // a collector deleted it between our open and lock
    }
  }

  /** Protects `path` (a full store path) from garbage collection until this process exits. */
  add(path: string): void {
    if (this.added.has(path)) return;
    const fd = this.open();
    this.gcLockFd ??= openLockFile(join(this.stateDir, "gc.lock"));
    for (;;) {
      const shared = tryLockFd(this.gcLockFd, "shared", "gc.lock");
      if (!shared && inProcessCollector) {
        inProcessCollector(path);
      } else if (!shared && !this.tellCollector(path)) {
        continue;
      }
      try {
        writeSync(fd, Buffer.from(`${path}\0`));
      } catch (error) {
        throw new SystemError(`writing temporary root to '${this.file}'`, error);
      } finally {
        if (shared) unlockFd(this.gcLockFd, "gc.lock");
      }
      this.added.add(path);
      return;
    }
  }

  /** Sends a root to the running collector; false means "start over" (it went away). */
  private tellCollector(path: string): boolean {
    const socket = join(this.stateDir, "gc-socket", "socket");
    try {
      this.socketFd ??= connectUnix(socket);
      writeAll(this.socketFd, Buffer.from(`${path}\n`));
      const reply = new Uint8Array(1);
      if (readInto(this.socketFd, reply) !== 1) throw new ErrnoError("read", 32);
      if (reply[0] !== 0x31) throw new BunixError(`the garbage collector answered '${String.fromCharCode(reply[0]!)}' to a temporary root`);
      return true;
    } catch (error) {
      if (this.socketFd !== undefined) close(this.socketFd);
      this.socketFd = undefined;
      const code = (error as ErrnoError).code;
      // The collector may be starting (no socket yet) or finishing: try the lock again.
      if (code === "ECONNREFUSED" || code === "ENOENT" || code === "EPIPE" || code === "ECONNRESET") {
        Bun.sleepSync(1);
        return false;
      }
      throw error instanceof ErrnoError ? new SystemError(`connecting to the garbage collector at '${socket}'`, error) : error;
    }
  }

  close(): void {
    openRoots.delete(this);
    if (this.gcLockFd !== undefined) closeSync(this.gcLockFd);
    this.gcLockFd = undefined;
    this.added.clear();
    if (this.socketFd !== undefined) close(this.socketFd);
    this.socketFd = undefined;
    if (this.fd === undefined) return;
    try {
      unlinkSync(this.file);
    } catch {
      // already removed
    }
    closeSync(this.fd);
    this.fd = undefined;
  }
}
