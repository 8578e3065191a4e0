/** `bunix store init`, `add` and `add-text`. */
import type { CAC } from "cac";
import { UsageError } from "../../internal/errors.ts";
import { computeAddPath } from "../../internal/store/add-path.ts";
import { addPath, addText } from "../../internal/store/add.ts";
import { fdChunks, fdChunksOfFile } from "../../internal/stream/file-chunks.ts";
import { out, single, strings } from "../cli.ts";
import { algorithmFlag } from "../hashing.ts";
import { Progress } from "../progress.ts";
import { type StoreFlags, commandSettings, openStore, storeLocation, withStoreOptions } from "../store-options.ts";

interface AddFlags extends StoreFlags {
  dryRun?: boolean;
  flat?: boolean;
  hashAlgo?: unknown;
  name?: unknown;
}

async function add(paths: string[], flags: AddFlags): Promise<void> {
  const list = strings(paths);
  const name = single(flags.name, "--name");
  if (name !== undefined && list.length > 1) throw new UsageError("--name can only be used with a single path");
  const options = {
    method: flags.flat ? ("flat" as const) : ("recursive" as const),
    algorithm: algorithmFlag(single(flags.hashAlgo, "--hash-algo"), "sha256"),
    name,
  };
  if (flags.dryRun) {
    const { storeDir } = storeLocation(flags, commandSettings());
    for (const path of list) out(`${computeAddPath(path, options, storeDir).path.in(storeDir)}\n`);
    return;
  }
  const store = openStore(flags, "write");
  const progress = new Progress();
  try {
    for (const [i, path] of list.entries()) {
      progress.update(`adding [${i + 1}/${list.length}] ${path}`);
      const result = await addPath(store, path, options);
      progress.done();
      out(`${store.print(result.path)}\n`);
    }
  } finally {
    progress.done();
    store.close();
  }
}

async function addTextCommand(name: string, file: string, flags: StoreFlags): Promise<void> {
  const store = openStore(flags, "write");
  try {
    const contents = String(file) === "-" ? fdChunks(0) : fdChunksOfFile(String(file));
    const result = await addText(store, String(name), contents, { references: "scan" });
    out(`${store.print(result.path)}\n`);
  } finally {
    store.close();
  }
}

export function registerAdd(cli: CAC): void {
  withStoreOptions(cli.command("init", "Create the store (directories, database, locks) if it does not exist")).action((flags: StoreFlags) => {
    openStore(flags, "write").close();
  });
  withStoreOptions(
    cli
      .command("add <...paths>", "Add files or trees to the store and print their store paths (nix-store --add / --add-fixed)")
      .option("--dry-run", "Only print the store paths that adding would give; touch no store")
      .option("--flat", "Hash the file's bytes rather than its NAR (a regular file only)")
      .option("--hash-algo <algo>", "md5, sha1, sha256 or sha512 (default: sha256)")
      .option("-n, --name <name>", "Store path name (default: the file's base name)"),
  ).action(add);
  withStoreOptions(
    cli.command("add-text <name> <file>", "Add FILE ('-' for stdin) as a text object named NAME; references to valid paths are found by scanning"),
  ).action(addTextCommand);
}
