/** nix-store --verify/--verify-path/--repair-path: being written. */
import { UsageError } from "../../../internal/errors.ts";
import type { NixStoreInvocation } from "./operations.ts";

const later = (op: string) => (_invocation: NixStoreInvocation): void => {
  throw new UsageError(`bunix does not implement 'nix-store ${op}' yet`);
};
export const verify = later("--verify");
export const verifyPath = later("--verify-path");
export const repairPath = later("--repair-path");
