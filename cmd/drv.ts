/**
 * `bunix drv`: derivations. `show` prints them as `nix show-derivation`
 * does; `path` prints the store path a derivation would get and its outputs.
 */
import type { CAC } from "cac";
import { derivationBytes } from "../internal/derivation/aterm-write.ts";
import { derivationPath, withOutputPaths } from "../internal/derivation/output-paths.ts";
import { showDerivations } from "../internal/derivation/json.ts";
import type { ByteString, Derivation } from "../internal/derivation/types.ts";
import { loadDerivationFile, storeDerivationContext } from "../internal/store/derivation-files.ts";
import { jsonObject, printJsonPretty } from "../internal/text/json.ts";
import { commandGroup, outBytes, runCac, strings, warn } from "./cli.ts";
import { type StoreFlags, storeLocation, withStoreOptions } from "./store-options.ts";

function show(args: string[], flags: StoreFlags & { recursive?: boolean }): void {
  const location = storeLocation(flags);
  const context = storeDerivationContext(location);
  const shown: Array<[ByteString, Derivation]> = [];
  const seen = new Set<ByteString>();
  const visit = (path: ByteString, drv: Derivation) => {
    if (seen.has(path)) return;
    seen.add(path);
    shown.push([path, drv]);
    if (flags.recursive) for (const input of drv.inputDrvs.keys()) visit(input, context.load(input));
  };
  for (const arg of strings(args)) {
    const loaded = loadDerivationFile(location, arg);
    const path = loaded.storePath ?? derivationPath(loaded.derivation, loaded.name, location.storeDir);
    visit(path.in(location.storeDir), loaded.derivation);
  }
  // Like nix show-derivation: one object keyed by drv path, in path order.
  shown.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  outBytes(Buffer.from(showDerivations(shown), "latin1"));
}

function path(args: string[], flags: StoreFlags & { json?: boolean }): void {
  const location = storeLocation(flags);
  const context = storeDerivationContext(location);
  const results: Array<[string, Array<[string, string]>]> = [];
  for (const arg of strings(args)) {
    const loaded = loadDerivationFile(location, arg);
    if (loaded.format === "aterm" && !Buffer.from(derivationBytes(loaded.derivation)).equals(loaded.bytes)) {
      warn(`'${arg}' is not written the way Nix writes derivations; its path is computed from the canonical text`);
    }
    const complete = withOutputPaths(loaded.derivation, loaded.name, context);
    const drvPath = derivationPath(complete, loaded.name, location.storeDir).in(location.storeDir);
    for (const [name, output] of complete.outputs) {
      const written = loaded.derivation.outputs.get(name)!.path;
      if (written !== "" && written !== output.path) warn(`'${arg}': output '${name}' is recorded as '${written}' but is '${output.path}'`);
    }
    if (loaded.storePath && loaded.storePath.in(location.storeDir) !== drvPath) {
      warn(`'${arg}' is named '${loaded.storePath.baseName}' but its contents give '${drvPath}'`);
    }
    results.push([drvPath, [...complete.outputs].map(([name, o]) => [name, o.path])]);
  }
  if (flags.json) {
    const node = results.map(([drvPath, outputs]) => jsonObject([["drvPath", drvPath], ["outputs", jsonObject(outputs)]]));
    outBytes(Buffer.from(`${printJsonPretty(node)}\n`, "latin1"));
    return;
  }
  const lines = results.flatMap(([drvPath, outputs]) => [drvPath, ...outputs.map(([name, p]) => `${name} ${p}`)]);
  outBytes(Buffer.from(`${lines.join("\n")}\n`, "latin1"));
}

export function drvCli(): CAC {
  const cli = commandGroup("bunix drv");
  withStoreOptions(
    cli
      .command("show <...drvs>", "Print derivations (.drv files, store paths or JSON) as JSON, like nix show-derivation")
      .option("-r, --recursive", "Also show every input derivation, read from the store"),
  ).action(show);
  withStoreOptions(
    cli
      .command("path <...files>", "Print the store path a derivation (.drv or show-derivation JSON) gets, then 'output path' lines")
      .option("--json", "Print JSON"),
  ).action(path);
  return cli;
}

export const run = (argv: readonly string[]) => runCac(drvCli(), argv);
