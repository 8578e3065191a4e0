/**
 * A process started by the launcher: its report pipe (setup failure, the
 * builder's pid, its exit status) and its log (the pseudo-terminal master)
 * are drained without blocking on a short timer, and the process is reaped
 * with waitpid(WNOHANG). Bun's own event loop never sees these descriptors.
 */
import { closeSync } from "node:fs";
import { ErrnoError } from "../../ffi/errno.ts";
import { readAvailable } from "../../ffi/files.ts";
import { SIGKILL, describeWaitStatus, setNonBlocking, signalProcess, waitNoHang } from "../../ffi/process.ts";
import type { Launched } from "./launcher.ts";
import type { Operation } from "./ops.ts";

/** Polling starts fast (short builds end within milliseconds) and backs off to this; output makes it fast again. */
const MIN_POLL_MS = 0.25;
const MAX_POLL_MS = 10;
const LOG_CHUNK = 64 << 10;
/** How long to keep reading output after the builder exited. */
const LINGER_MS = 250;

export interface ProcessOutcome {
  /** Exit code, when the builder exited. */
  code?: number;
  /** Signal, when it was killed. */
  signal?: number;
  /** A setup step failed before the builder ran. */
  setupFailure?: { what: string; errno: number };
}

export interface WatchOptions {
  /** Called with every chunk of output (valid during the call). */
  onOutput: (chunk: Uint8Array) => void;
  /** Called every poll; may call `kill()`. */
  onTick?: () => void;
  /** While true the output is left unread: the builder blocks writing it (whoever reads the log is behind). */
  paused?: () => boolean;
}

export class LaunchedProcess {
  private readonly reportBuffer = new Uint8Array(8 * 64);
  private reportBytes = Buffer.alloc(0);
  private builderPid: number | undefined;
  private status: number | undefined;
  private setupFailure: { index: number; errno: number } | undefined;
  private readonly logBuffer = new Uint8Array(LOG_CHUNK);
  private killed = false;
  /** Output was read since the last poll: the builder is talking, poll again soon. */
  private active = false;

  constructor(
    private readonly launched: Launched,
    private readonly operations: readonly Operation[],
    private readonly logFd: number | undefined,
  ) {
    this.builderPid = launched.builderPid;
    this.setupFailure = launched.failure;
    setNonBlocking(launched.reportFd);
    if (logFd !== undefined) setNonBlocking(logFd);
  }

  /** The forked child's pid. */
  get pid(): number {
    return this.launched.pid;
  }

  /** Kills the builder and, with a PID namespace, everything in it. */
  kill(): void {
    this.killed = true;
    if (this.builderPid !== undefined) signalProcess(this.builderPid, SIGKILL);
    signalProcess(this.launched.pid, SIGKILL);
  }

  private drainReports(): boolean {
    for (;;) {
      const n = readAvailable(this.launched.reportFd, this.reportBuffer);
      if (n < 0) return false;
      if (n === 0) return true;
      this.reportBytes = Buffer.concat([this.reportBytes, this.reportBuffer.subarray(0, n)]);
      while (this.reportBytes.length >= 8) {
        const a = this.reportBytes.readInt32LE(0);
        const b = this.reportBytes.readInt32LE(4);
        this.reportBytes = this.reportBytes.subarray(8);
        if (a === -2) this.builderPid = b;
        else if (a === -3) this.status = b;
        else this.setupFailure ??= { index: a, errno: b };
      }
    }
  }

  /** Reads whatever output is available; true at end of output. */
  private drainLog(onOutput: (chunk: Uint8Array) => void): boolean {
    if (this.logFd === undefined) return true;
    for (;;) {
      let n: number;
      try {
        n = readAvailable(this.logFd, this.logBuffer);
      } catch (error) {
        if ((error as ErrnoError).code === "EIO") return true; // every slave side is closed
        throw error;
      }
      if (n < 0) return false;
      if (n === 0) return true;
      this.active = true;
      onOutput(this.logBuffer.subarray(0, n));
    }
  }

  async wait(options: WatchOptions): Promise<ProcessOutcome> {
    let exitStatus: number | undefined;
    let exitedAt = 0;
    let pollMs = MIN_POLL_MS;
    for (;;) {
      this.drainReports();
      const logDone = options.paused?.() ? false : this.drainLog(options.onOutput);
      if (exitStatus === undefined) {
        exitStatus = waitNoHang(this.launched.pid);
        if (exitStatus !== undefined) exitedAt = Date.now();
      }
      // Output left by processes that outlive the builder (no PID namespace) is not waited for long.
      if (exitStatus !== undefined && (logDone || this.killed || Date.now() - exitedAt > LINGER_MS)) break;
      options.onTick?.();
      await Bun.sleep(pollMs);
      pollMs = this.active ? MIN_POLL_MS : Math.min(pollMs * 2, MAX_POLL_MS);
      this.active = false;
    }
    this.drainReports();
    this.drainLog(options.onOutput);
    closeSync(this.launched.reportFd);
    if (this.logFd !== undefined) closeSync(this.logFd);
    if (this.setupFailure) {
      const operation = this.operations[this.setupFailure.index];
      return { setupFailure: { what: operation?.what ?? `setup step ${this.setupFailure.index}`, errno: this.setupFailure.errno } };
    }
    // With a PID namespace the intermediate reports the builder's status; without, it is the child's own.
    return describeWaitStatus(this.status ?? exitStatus!);
  }
}
