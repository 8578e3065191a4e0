/** How failures look to a client: Nix-style messages without the "error: " prefix. */
import { BuildError, failureExitStatus } from "../build/errors.ts";
import type { ClientError } from "./logger.ts";

export function clientErrorOf(error: unknown): ClientError {
  const message = error instanceof Error ? error.message : String(error);
  const exitStatus = error instanceof BuildError ? failureExitStatus([error]) : 1;
  return { message, exitStatus };
}
