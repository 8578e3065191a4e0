/**
 * Runs a builder to completion: starts it through the launcher (sandboxed or
 * not), streams its output into the log, and enforces the limits: `timeout`
 * (wall time of the whole build; output does not reset it), `max-silent-time`
 * and `max-build-log-size`. Stopping kills the builder and everything it
 * started: its PID namespace, or, without one, every process of the build
 * user (or the builder's session).
 */
import { closeSync } from "node:fs";
import { ErrnoError } from "../../ffi/errno.ts";
import { describeSystemError } from "../errors.ts";
import { launch, openPty, type UserNamespaceMaps } from "../sandbox/launcher.ts";
import type { Operation } from "../sandbox/ops.ts";
import { LaunchedProcess } from "../sandbox/process.ts";
import { BuilderFailedError, BuildError, type FailureKind, type LimitExceeded, Unhighlighted, hint } from "./errors.ts";
import type { BuildLog } from "./logs.ts";

export interface Limits {
  /** Seconds, 0 = none. */
  timeout: number;
  maxSilentTime: number;
  /** Bytes, 0 = none. */
  maxLogSize: number;
}

export interface RunBuilderInput {
  /** Setup operations; the pty slave is `stdoutFd` in them (see openBuilderPty). */
  operations: (stdoutFd: number, keepAlive: unknown[]) => Operation[];
  maps: UserNamespaceMaps | undefined;
  log: BuildLog;
  limits: Limits;
  /** For messages: "builder for '<drv>'". */
  drvPath: string;
  /** Kills what may survive the builder when there is no PID namespace (given the child's pid). */
  killLeftovers?: (pid: number) => void;
  /** Stops the builder (its client went away, or another build failed). */
  signal?: AbortSignal;
  /** While true the builder's output is not read (it blocks), and its silence does not count. */
  paused?: () => boolean;
}

/** glibc's strsignal() texts, which Nix puts after the signal number. */
const SIGNAL_TEXT: Record<number, string> = {
  1: "Hangup", 2: "Interrupt", 3: "Quit", 4: "Illegal instruction", 5: "Trace/breakpoint trap", 6: "Aborted",
  7: "Bus error", 8: "Floating point exception", 9: "Killed", 10: "User defined signal 1", 11: "Segmentation fault",
  12: "User defined signal 2", 13: "Broken pipe", 14: "Alarm clock", 15: "Terminated", 16: "Stack fault",
  17: "Child exited", 18: "Continued", 19: "Stopped (signal)", 20: "Stopped", 21: "Stopped (tty input)",
  22: "Stopped (tty output)", 23: "Urgent I/O condition", 24: "CPU time limit exceeded", 25: "File size limit exceeded",
  26: "Virtual timer expired", 27: "Profiling timer expired", 28: "Window changed", 29: "I/O possible",
  30: "Power failure", 31: "Bad system call",
};

function errnoText(errno: number): string {
  return describeSystemError(new ErrnoError("setup", errno));
}

export async function runBuilder(input: RunBuilderInput): Promise<void> {
  const pty = openPty();
  const keepAlive: unknown[] = [];
  const operations = input.operations(pty.slave, keepAlive);
  let process: LaunchedProcess;
  try {
    process = new LaunchedProcess(launch(operations, input.maps, keepAlive), operations, pty.master);
  } finally {
    closeSync(pty.slave);
  }
  const started = Date.now();
  let lastOutput = started;
  let stopReason: string | undefined;
  let stopKind: FailureKind = "other";
  let stopLimit: LimitExceeded | undefined;
  const stop = (reason: string, kind: FailureKind, limit?: LimitExceeded) => {
    if (stopReason !== undefined) return;
    stopReason = reason;
    stopKind = kind;
    stopLimit = limit;
    process.kill();
    input.killLeftovers?.(process.pid);
  };
  const outcome = await process.wait({
    onOutput: (chunk) => {
      lastOutput = Date.now();
      if (stopReason !== undefined) return;
      // As Nix: the output that goes over the limit is not logged at all.
      if (input.limits.maxLogSize > 0 && input.log.bytes + chunk.length > input.limits.maxLogSize) {
        const limit = { limit: "max-build-log-size", value: input.limits.maxLogSize } as const;
        stop(`building '${input.drvPath}' killed after writing more than ${input.limits.maxLogSize} bytes of log output`, "log-limit", limit);
        return;
      }
      input.log.write(chunk);
    },
    paused: input.paused,
    onTick: () => {
      const now = Date.now();
      if (input.paused?.()) lastOutput = now;
      if (input.signal?.aborted) {
        stop(`building '${input.drvPath}' was interrupted`, "cancelled");
      } else if (input.limits.timeout > 0 && now - started > input.limits.timeout * 1000) {
        stop(`building '${input.drvPath}' timed out after ${input.limits.timeout} seconds`, "timed-out", { limit: "timeout", value: input.limits.timeout });
      } else if (input.limits.maxSilentTime > 0 && now - lastOutput > input.limits.maxSilentTime * 1000) {
        const limit = { limit: "max-silent-time", value: input.limits.maxSilentTime } as const;
        stop(`building '${input.drvPath}' timed out after ${input.limits.maxSilentTime} seconds of silence`, "timed-out", limit);
      }
    },
  });
  input.killLeftovers?.(process.pid);
  input.log.close();
  if (stopReason !== undefined) throw new BuilderFailedError(stopReason, input.log.lastLines(), stopLimit).as(stopKind);
  if (outcome.setupFailure) {
    throw new BuildError(`builder for '${input.drvPath}' could not start: cannot ${outcome.setupFailure.what}: ${errnoText(outcome.setupFailure.errno)}`);
  }
  if (outcome.signal !== undefined) {
    const text = SIGNAL_TEXT[outcome.signal] ?? "Unknown signal";
    throw new BuilderFailedError(hint`builder for '${input.drvPath}' ${new Unhighlighted(`failed due to signal ${outcome.signal} (${text})`)}`, input.log.lastLines()).as("builder-failed");
  }
  if (outcome.code !== 0) {
    throw new BuilderFailedError(hint`builder for '${input.drvPath}' ${new Unhighlighted(`failed with exit code ${outcome.code}`)}`, input.log.lastLines()).as("builder-failed");
  }
}
