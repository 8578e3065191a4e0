/**
 * The stderr channel of a connection (worker-protocol.md 5): log lines,
 * activities and results sent between a request and its reply, ended by
 * STDERR_LAST or STDERR_ERROR. Messages produced while no operation is in
 * progress wait for the next one. Old clients get what they understand:
 * below 1.20 activities become plain lines and results are dropped; below
 * 1.26 errors use the old text form.
 */
import { Stderr, Verbosity, type LogField } from "../wire/worker-protocol.ts";
import { writeFields } from "../wire/worker-types.ts";
import type { Output } from "./output.ts";

export interface ActivityIds {
  next(): bigint;
}

/** Process-wide activity ids: (pid << 32) + counter, as the 2.8 daemon numbers them. */
export function activityIds(pid = process.pid): ActivityIds {
  let counter = 0n;
  const base = BigInt(pid) << 32n;
  return { next: () => base + ++counter };
}

/** An error the client should see as Nix renders it; `exitStatus` matters to old clients. */
export interface ClientError {
  message: string;
  exitStatus: number;
}

/** Continuation lines line up after "error: ", as Nix renders multi-line errors. */
function indentContinuation(message: string): string {
  return message.replaceAll("\n", "\n       ");
}

export class Logger {
  verbosity: number = Verbosity.info;
  private working = false;
  private readonly pending: Array<() => void> = [];

  constructor(
    private readonly out: Output,
    private readonly minor: number,
    private readonly ids: ActivityIds,
  ) {}

  get inProgress(): boolean {
    return this.working;
  }

  /** Opens the channel for an operation and sends what was queued meanwhile. */
  startWork(): void {
    this.working = true;
    // Nothing queued (the usual case): no send to schedule, the reply goes out with STDERR_LAST.
    if (this.pending.length === 0) return;
    for (const message of this.pending.splice(0)) message();
    this.out.sendSoon();
  }

  /** STDERR_LAST: the reply fields follow. */
  finishWork(): void {
    this.working = false;
    this.out.writer.u64(Stderr.last);
  }

  /** STDERR_ERROR in the client's format; no reply follows. */
  failWork(error: ClientError): void {
    this.working = false;
    const w = this.out.writer;
    w.u64(Stderr.error);
    if (this.minor >= 26) {
      w.text("Error").u64(Verbosity.error).text("Error").text(error.message).u64(0).u64(0);
    } else {
      w.text(`\x1b[31;1merror:\x1b[0m ${indentContinuation(error.message)}`).u64(error.exitStatus);
    }
  }

  private emit(message: () => void): void {
    if (!this.working) {
      this.pending.push(message);
      return;
    }
    message();
    this.out.sendSoon();
  }

  /** A log line at `level`, sent if the client asked for that much. */
  log(level: number, text: string): void {
    if (level > this.verbosity) return;
    this.emit(() => this.out.writer.u64(Stderr.next).text(`${text}\n`));
  }

  /** An error that does not end the operation, as Nix's logError sends it: no trailing newline. */
  logError(message: string): void {
    this.emit(() => this.out.writer.u64(Stderr.next).text(`\x1b[31;1merror:\x1b[0m ${indentContinuation(message)}`));
  }

  warn(text: string): void {
    this.log(Verbosity.warn, `\x1b[35;1mwarning:\x1b[0m ${text}`);
  }

  /** Starts an activity; its id is returned for results and the stop. */
  startActivity(level: number, type: number, text: string, fields: readonly LogField[] = [], parent = 0n): bigint {
    const id = this.ids.next();
    if (this.minor < 20) {
      if (text !== "") this.log(level, `${text}...`);
      return id;
    }
    this.emit(() => {
      const w = this.out.writer;
      w.u64(Stderr.startActivity).u64(id).u64(level).u64(type).text(text);
      writeFields(w, fields);
      w.u64(parent);
    });
    return id;
  }

  stopActivity(id: bigint): void {
    if (this.minor < 20) return;
    this.emit(() => this.out.writer.u64(Stderr.stopActivity).u64(id));
  }

  result(id: bigint, type: number, fields: readonly LogField[]): void {
    if (this.minor < 20) return;
    this.emit(() => {
      this.out.writer.u64(Stderr.result).u64(id).u64(type);
      writeFields(this.out.writer, fields);
    });
  }
}
