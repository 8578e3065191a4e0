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
