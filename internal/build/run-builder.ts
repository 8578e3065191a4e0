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
import { BuilderFailedError, BuildError, type FailureKind } from "./errors.ts";
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
}

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
  const stop = (reason: string, kind: FailureKind = "other") => {
    if (stopReason !== undefined) return;
    stopReason = reason;
    stopKind = kind;
    process.kill();
    input.killLeftovers?.(process.pid);
  };
  const outcome = await process.wait({
    onOutput: (chunk) => {
      lastOutput = Date.now();
      input.log.write(chunk);
      if (input.limits.maxLogSize > 0 && input.log.bytes > input.limits.maxLogSize) {
        stop(`building '${input.drvPath}' killed after writing more than ${input.limits.maxLogSize} bytes of log output`);
      }
    },
    onTick: () => {
      const now = Date.now();
      if (input.limits.timeout > 0 && now - started > input.limits.timeout * 1000) {
        stop(`building '${input.drvPath}' timed out after ${input.limits.timeout} seconds`, "timed-out");
      } else if (input.limits.maxSilentTime > 0 && now - lastOutput > input.limits.maxSilentTime * 1000) {
        stop(`building '${input.drvPath}' timed out after ${input.limits.maxSilentTime} seconds of silence`, "timed-out");
      }
    },
  });
  input.killLeftovers?.(process.pid);
  input.log.close();
  if (stopReason !== undefined) throw new BuilderFailedError(stopReason, input.log.lastLines()).as(stopKind);
  if (outcome.setupFailure) {
    throw new BuildError(`builder for '${input.drvPath}' could not start: cannot ${outcome.setupFailure.what}: ${errnoText(outcome.setupFailure.errno)}`);
  }
  if (outcome.signal !== undefined) {
    throw new BuilderFailedError(`builder for '${input.drvPath}' failed due to signal ${outcome.signal}`, input.log.lastLines()).as("builder-failed");
  }
  if (outcome.code !== 0) {
    throw new BuilderFailedError(`builder for '${input.drvPath}' failed with exit code ${outcome.code}`, input.log.lastLines()).as("builder-failed");
  }
}
