/** nix-store --query: to be written (queries issue work in progress). */
import { UsageError } from "../../../internal/errors.ts";
import type { NixStoreInvocation } from "./operations.ts";

export function query(_invocation: NixStoreInvocation): void {
  throw new UsageError("bunix does not implement 'nix-store --query' yet");
}
