/** `bunix store log PATH...`: build logs, as `nix-store -l` shows them. */
import type { CAC } from "cac";
import { readBuildLog } from "../../internal/build/logs.ts";
import { StoreError } from "../../internal/store/errors.ts";
import type { LocalStore } from "../../internal/store/local-store.ts";
import { outBytes, strings } from "../cli.ts";
import { type StoreFlags, openStore, withStoreOptions } from "../store-options.ts";
import { storePathArgument } from "./arguments.ts";

/** The log of a derivation, or of the deriver of an output path. */
export function readBuildLogOf(store: LocalStore, arg: string): Uint8Array {
  const path = storePathArgument(store, arg);
  const drvPath = path.isDerivation() ? path : store.queryPathInfo(path)?.deriver;
  const log = drvPath ? readBuildLog(store.logDir, drvPath) : undefined;
  if (!log) throw new StoreError(`build log of derivation '${store.print(drvPath ?? path)}' is not available`);
  return log;
}

export function registerLog(cli: CAC): void {
  withStoreOptions(cli.command("log <...paths>", "Print the build log of derivations or of the outputs they built (nix-store -l)")).action((args: string[], flags: StoreFlags) => {
    const store = openStore(flags, "read");
    try {
      for (const arg of strings(args)) outBytes(readBuildLogOf(store, arg));
    } finally {
      store.close();
    }
  });
}
