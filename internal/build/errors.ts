/** Errors of builds. */
import { BunixError } from "../errors.ts";

/**
 * How a failed build counts, as Nix classifies it: a builder that failed
 * (not fixed-output), a timeout, a hash mismatch, a `--check` that found a
 * difference count for the exit status; the rest only name the failure
 * (a fixed-output builder that failed is transient, it may be the network;
 * outputs that fail their checks are rejected; a log over the limit).
 */
export type FailureKind =
  | "other"
  | "builder-failed"
  | "timed-out"
  | "hash-mismatch"
  | "not-deterministic"
  | "log-limit"
  | "output-rejected"
  | "transient"
  | "cancelled";

/**
 * A message as Nix's hintfmt renders it: each argument highlighted
 * (ESC[35;1m ... ESC[0m), beside the plain text. Daemon clients get the
 * highlighted form, as from nix-daemon; bunix's own commands print the plain one.
 */
export interface Hint {
  plain: string;
  styled: string;
}

const HIGHLIGHT = "\x1b[35;1m";
const NORMAL = "\x1b[0m";

/** An argument of `hint` that is not highlighted (text Nix formats before the message). */
export class Unhighlighted {
  constructor(readonly text: string) {}
}

/** hint`builder for '${drv}' failed`: a Hint whose arguments are highlighted. */
export function hint(strings: TemplateStringsArray, ...args: unknown[]): Hint {
  let plain = strings[0]!;
  let styled = strings[0]!;
  args.forEach((arg, i) => {
    const text = arg instanceof Unhighlighted ? arg.text : String(arg);
    plain += `${text}${strings[i + 1]!}`;
    styled += `${arg instanceof Unhighlighted ? text : `${HIGHLIGHT}${text}${NORMAL}`}${strings[i + 1]!}`;
  });
  return { plain, styled };
}

export class BuildError extends BunixError {
  override name = "BuildError";
  kind: FailureKind = "other";
  /** The message with Nix's highlighting (the plain message when there is none). */
  readonly styled: string;
  /** The exit status it stands for when it sums up several failures (else from its kind). */
  exitStatus?: number;

  constructor(message: string | Hint, options?: { cause?: unknown }) {
    super(typeof message === "string" ? message : message.plain, options);
    this.styled = typeof message === "string" ? message : message.styled;
  }

  /** Sets the kind (a builder-style chainable call). */
  as(kind: FailureKind): this {
    this.kind = kind;
    return this;
  }
}

/** Which limit stopped a builder, for callers that word it their own way (the daemon, as Nix). */
export interface LimitExceeded {
  limit: "timeout" | "max-silent-time" | "max-build-log-size";
  value: number;
}

/** A builder that ran and failed (exit code, signal, limit): the log tail goes with it. */
export class BuilderFailedError extends BuildError {
  override name = "BuilderFailedError";
  constructor(
    message: string | Hint,
    readonly logTail: readonly string[],
    readonly limit?: LimitExceeded,
  ) {
    super(message);
  }
}

/**
 * Nix's exit status for a set of failed builds: 0x60 plus bits for a failed
 * builder (4), a timeout (1 and 4), a hash mismatch (2 and 4) and a --check
 * difference (8); 1 when no build failed as such (other errors).
 */
export function failureExitStatus(errors: Iterable<unknown>): number {
  let mask = 0;
  for (const error of errors) {
    const kind = error instanceof BuildError ? error.kind : "other";
    if (kind === "builder-failed" || kind === "timed-out" || kind === "hash-mismatch") mask |= 0x04;
    if (kind === "timed-out") mask |= 0x01;
    if (kind === "hash-mismatch") mask |= 0x02;
    if (kind === "not-deterministic") mask |= 0x08;
  }
  return mask === 0 ? 1 : mask | 0x60;
}
