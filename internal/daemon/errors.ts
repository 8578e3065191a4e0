/** How failures look to a client: Nix-style messages without the "error: " prefix. */
import { BuildError, failureExitStatus } from "../build/errors.ts";
import { HintedStoreError } from "../store/hinted-error.ts";
import type { ClientError } from "./logger.ts";

/** What a client is told when an allocation failed while its request was served. */
export const OUT_OF_MEMORY_MESSAGE = "bunix daemon out of memory";

/** A failed allocation: JSC's RangeError "Out of memory" (typed arrays, strings) or Bun's own out-of-memory errors. */
export function isOutOfMemory(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (code === "ERR_OUT_OF_MEMORY" || code === "ENOMEM" || error.name === "OutOfMemoryError") return true;
  return error instanceof RangeError && /out of memory|allocation failed/i.test(error.message);
}

export function clientErrorOf(error: unknown): ClientError {
  if (isOutOfMemory(error)) return { message: OUT_OF_MEMORY_MESSAGE, exitStatus: 1 };
  // Build errors and some store errors carry Nix's highlighting, which clients get as nix-daemon sends it.
  const message = error instanceof BuildError || error instanceof HintedStoreError ? error.styled : error instanceof Error ? error.message : String(error);
  const exitStatus = error instanceof BuildError ? (error.exitStatus ?? failureExitStatus([error])) : 1;
  return { message, exitStatus };
}
