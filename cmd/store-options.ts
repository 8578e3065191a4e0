/** The flags that choose a store, shared by every command that reads one. */
import type { Command } from "cac";
import { type StoreLocation, resolveStoreLocation } from "../internal/settings/store-location.ts";
import { single } from "./cli.ts";

export interface StoreFlags {
  storeDir?: unknown;
  store?: unknown;
}

export function withStoreOptions(command: Command): Command {
  return command
    .option("--store-dir <dir>", "Logical store directory (default: $NIX_STORE_DIR or /nix/store)")
    .option("--store <uri>", "Store to use: a root directory or local?root=DIR");
}

export function storeLocation(flags: StoreFlags): StoreLocation {
  return resolveStoreLocation({ storeDir: single(flags.storeDir, "--store-dir"), store: single(flags.store, "--store") });
}
