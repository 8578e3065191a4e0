/** nix-store --delete: being written. */
import { UsageError } from "../../../internal/errors.ts";
import type { NixStoreInvocation } from "./operations.ts";

export function deletePaths(_invocation: NixStoreInvocation): void {
  throw new UsageError("bunix does not implement 'nix-store --delete' yet");
}
