/** Errors of builds. */
import { BunixError } from "../errors.ts";

export class BuildError extends BunixError {
  override name = "BuildError";
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
