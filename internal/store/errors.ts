/** Errors of store operations that a user can act on. */
import { BunixError } from "../errors.ts";

export class StoreError extends BunixError {
  override name = "StoreError";
}

/** A path that should be valid (registered) is not. */
export class InvalidPathError extends StoreError {
  override name = "InvalidPathError";
  constructor(readonly path: string) {
    super(`path '${path}' is not valid`);
  }
}
