/** nix-store -l / --read-log PATHS: the build log of each derivation (or of an output's deriver). */
import { UsageError } from "../../../internal/errors.ts";
import { readBuildLogOf } from "../../store/log.ts";
import { openStore } from "../../store-options.ts";
import { outBytes } from "../../cli.ts";
import { type NixStoreInvocation, storeFlagsOf } from "./operations.ts";

export function readLog(invocation: NixStoreInvocation): void {
  if (invocation.flags.length > 0) throw new UsageError("unknown flag");
  const store = openStore(storeFlagsOf(invocation), "read");
  try {
    for (const arg of invocation.operands) outBytes(readBuildLogOf(store, arg));
  } finally {
    store.close();
  }
}
