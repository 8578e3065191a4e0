/** `bunix store delete`: remove paths that nothing refers to and no process holds. */
import type { CAC } from "cac";
import { type DeleteResult, deletePaths } from "../../internal/gc/delete.ts";
import type { LocalStore } from "../../internal/store/local-store.ts";
import { out, strings } from "../cli.ts";
import { type StoreFlags, openStore, withStoreOptions } from "../store-options.ts";
import { storePathArgument } from "./path-info.ts";

/** Nix's summary line: "N store paths deleted, X.XX MiB freed". */
export function freedSummary(result: DeleteResult): string {
  return `${result.deleted.length} store paths deleted, ${(result.bytesFreed / (1024 * 1024)).toFixed(2)} MiB freed\n`;
}

/** Deletes and reports like `nix-store --delete`: each path on stderr, the summary on stdout. */
export async function deleteAndReport(store: LocalStore, args: readonly string[]): Promise<void> {
  const paths = args.map((a) => storePathArgument(store, a));
  const result = await deletePaths(store, paths, (message) => process.stderr.write(`${message}\n`));
  for (const path of result.deleted) process.stderr.write(`deleting '${store.print(path)}'\n`);
  out(freedSummary(result));
}

async function deleteCommand(args: string[], flags: StoreFlags): Promise<void> {
  const store = openStore(flags, "write");
  try {
    await deleteAndReport(store, strings(args));
  } finally {
    store.close();
  }
}

export function registerDelete(cli: CAC): void {
  withStoreOptions(
    cli.command("delete <...paths>", "Delete paths from the store; refuses paths that are still referenced or in use (nix-store --delete)"),
  ).action(deleteCommand);
}
