/** The flags that choose a store, shared by every command that reads one, and opening it. */
import type { Command } from "cac";
import { UsageError } from "../internal/errors.ts";
import { type Settings, loadSettings } from "../internal/settings/settings.ts";
import { type StoreLocation, resolveStoreLocation } from "../internal/settings/store-location.ts";
import { LocalStore } from "../internal/store/local-store.ts";
import { settingsFromCommandLine, single, warn } from "./cli.ts";

export interface StoreFlags {
  storeDir?: unknown;
  store?: unknown;
}

export function withStoreOptions(command: Command): Command {
  return command
    .option("--store-dir <dir>", "Logical store directory (default: $NIX_STORE_DIR or /nix/store)")
    .option("--store <uri>", "Store to use: a root directory, 'local' or local?root=DIR (default: the 'store' setting)")
    .option("--option <name value>", "Set a nix.conf setting for this command (two arguments)");
}

let loaded: Settings | undefined;

/** nix.conf, user files, NIX_CONFIG and --option, loaded once; warnings printed once. */
export function commandSettings(): Settings {
  if (loaded) return loaded;
  loaded = loadSettings({ options: settingsFromCommandLine() });
  for (const message of loaded.warnings) warn(message);
  return loaded;
}

/** Where the store is, from --store / --store-dir, else the `store` setting (NIX_REMOTE). */
export function storeLocation(flags: StoreFlags, settings?: Settings): StoreLocation {
  const uri = single(flags.store, "--store") ?? settings?.string("store");
  if (uri !== undefined && (uri === "daemon" || uri.startsWith("unix://") || uri.startsWith("ssh"))) {
    throw new UsageError(`store '${uri}' is a remote store, which this command cannot use yet: pass --store local (or a directory)`);
  }
  return resolveStoreLocation({ storeDir: single(flags.storeDir, "--store-dir"), store: uri });
}

/** Opens the local store; "read" does not create a missing store, "write" does. */
export function openStore(flags: StoreFlags, mode: "read" | "write"): LocalStore {
  const settings = commandSettings();
  const store = LocalStore.open(storeLocation(flags, settings), settings, { mode });
  for (const message of store.warnings) warn(message);
  return store;
}
