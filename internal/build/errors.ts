/** Errors of builds. */
import { BunixError } from "../errors.ts";

/**
 * How a failed build counts for the exit status, as Nix classifies it: a
 * builder that failed (not fixed-output), a timeout, a hash mismatch, a
 * `--check` that found a difference; anything else (rejected outputs,
 * failed fixed-output builders, log limits) is a plain failure.
 */
export type FailureKind = "other" | "builder-failed" | "timed-out" | "hash-mismatch" | "not-deterministic";

export class BuildError extends BunixError {
  override name = "BuildError";
  kind: FailureKind = "other";

  /** Sets the kind (a builder-style chainable call). */
  as(kind: FailureKind): this {
    this.kind = kind;
    return this;
  }
}

/** A builder that ran and failed (exit code, signal, limit): the log tail goes with it. */
export class BuilderFailedError extends BuildError {
  override name = "BuilderFailedError";
  constructor(
    message: string,
    readonly logTail: readonly string[],
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
