/** nix-store --delete. */
import { deleteAndReport } from "../../store/delete.ts";
import { openStore } from "../../store-options.ts";
import { type NixStoreInvocation, checkFlags, storeFlagsOf } from "./operations.ts";

export async function deletePaths(invocation: NixStoreInvocation): Promise<void> {
  checkFlags(invocation, []);
  const store = openStore(storeFlagsOf(invocation), "write");
  try {
    await deleteAndReport(store, invocation.operands);
  } finally {
    store.close();
  }
}
