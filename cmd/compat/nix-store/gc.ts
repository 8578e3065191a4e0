/** nix-store --gc and --optimise. */
import { UsageError } from "../../../internal/errors.ts";
import { parseByteCount, printRoots, runGc } from "../../gc.ts";
import { runOptimise } from "../../store/optimise.ts";
import { openStore } from "../../store-options.ts";
import { type NixStoreInvocation, storeFlagsOf } from "./operations.ts";

export async function gc(invocation: NixStoreInvocation): Promise<void> {
  let roots = false;
  let action: "delete" | "print-live" | "print-dead" = "delete";
  let maxFreed = Infinity;
  for (let i = 0; i < invocation.flags.length; i++) {
    const flag = invocation.flags[i]!;
    if (flag === "--print-roots") roots = true;
    else if (flag === "--print-live") action = "print-live";
    else if (flag === "--print-dead") action = "print-dead";
    else if (flag === "--max-freed") {
      const value = invocation.flags[++i];
      if (value === undefined) throw new UsageError("flag '--max-freed' requires an argument");
      maxFreed = value.startsWith("-") ? 0 : parseByteCount(value, "--max-freed");
    } else throw new UsageError(`bad sub-operation '${flag}' in GC`);
  }
  if (invocation.operands.length > 0) throw new UsageError("no arguments expected");
  const store = openStore(storeFlagsOf(invocation), "write");
  try {
    if (roots) printRoots(store);
    else await runGc(store, action, maxFreed);
  } finally {
    store.close();
  }
}

export async function optimise(invocation: NixStoreInvocation): Promise<void> {
  if (invocation.flags.length > 0 || invocation.operands.length > 0) throw new UsageError("no arguments expected");
  const store = openStore(storeFlagsOf(invocation), "write");
  try {
    await runOptimise(store, false);
  } finally {
    store.close();
  }
}
