/** nix-store --export/--import/--dump-db/--load-db/--register-validity/--check-validity: being written. */
import { UsageError } from "../../../internal/errors.ts";
import type { NixStoreInvocation } from "./operations.ts";

const later = (op: string) => (_invocation: NixStoreInvocation): void => {
  throw new UsageError(`bunix does not implement 'nix-store ${op}' yet`);
};
export const exportPaths = later("--export");
export const importPaths = later("--import");
export const dumpDb = later("--dump-db");
export const loadDb = later("--load-db");
export const registerValidity = later("--register-validity");
export const checkValidity = later("--check-validity");
