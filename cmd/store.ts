/**
 * `bunix store`: the local store. This release computes paths only
 * (`add --dry-run`); registering paths comes with the store database.
 */
import type { CAC } from "cac";
import { UsageError } from "../internal/errors.ts";
import { computeAddPath } from "../internal/store/add-path.ts";
import { commandGroup, out, runCac, single, strings } from "./cli.ts";
import { algorithmFlag } from "./hashing.ts";
import { type StoreFlags, storeLocation, withStoreOptions } from "./store-options.ts";

interface AddFlags extends StoreFlags {
  dryRun?: boolean;
  flat?: boolean;
  hashAlgo?: unknown;
  name?: unknown;
}

function add(paths: string[], flags: AddFlags): void {
  if (!flags.dryRun) throw new UsageError("this bunix can only compute store paths: pass --dry-run (the store database is not there yet)");
  const location = storeLocation(flags);
  const list = strings(paths);
  const name = single(flags.name, "--name");
  if (name !== undefined && list.length > 1) throw new UsageError("--name can only be used with a single path");
  const request = {
    method: flags.flat ? ("flat" as const) : ("recursive" as const),
    algorithm: algorithmFlag(single(flags.hashAlgo, "--hash-algo"), "sha256"),
    name,
  };
  for (const path of list) out(`${computeAddPath(path, request, location.storeDir).path.in(location.storeDir)}\n`);
}

export function storeCli(): CAC {
  const cli = commandGroup("bunix store");
  withStoreOptions(
    cli
      .command("add <...paths>", "Add files or trees to the store and print their store paths (nix-store --add / --add-fixed)")
      .option("--dry-run", "Only print the store paths that adding would give")
      .option("--flat", "Hash the file's bytes rather than its NAR (a regular file only)")
      .option("--hash-algo <algo>", "md5, sha1, sha256 or sha512 (default: sha256)")
      .option("-n, --name <name>", "Store path name (default: the file's base name)"),
  ).action(add);
  return cli;
}

export const run = (argv: readonly string[]) => runCac(storeCli(), argv);
