/** `bunix store path-info`: what the store records about paths, as `nix path-info` shows it. */
import type { CAC } from "cac";
import { compareStorePaths, type StorePath } from "../../internal/store-path/store-path.ts";
import { closureSize, computeClosure, references } from "../../internal/store/closure.ts";
import { InvalidPathError } from "../../internal/store/errors.ts";
import type { LocalStore } from "../../internal/store/local-store.ts";
import { type JsonNode, jsonObject, printJsonCompact } from "../../internal/text/json.ts";
import { out, strings } from "../cli.ts";
import { type StoreFlags, openStore, withStoreOptions } from "../store-options.ts";
import { storePathArgument } from "./arguments.ts";

/** Kept here for the modules that import it from path-info. */
export { storePathArgument } from "./arguments.ts";

interface PathInfoFlags extends StoreFlags {
  json?: boolean;
  closureSize?: boolean;
  size?: boolean;
  recursive?: boolean;
  sigs?: boolean;
}

/** One entry of `nix path-info --json`, field for field. */
export function pathInfoJson(store: LocalStore, path: StorePath, withClosureSize: boolean): JsonNode {
  const info = store.queryPathInfo(path);
  if (!info) return jsonObject([["path", store.print(path)], ["valid", false]]);
  const fields: Array<[string, JsonNode]> = [
    ["path", store.print(info.path)],
    ["narHash", info.narHash.format("sri")],
    ["narSize", info.narSize],
    ["references", info.references.map((r) => store.print(r))],
  ];
  if (info.ca) fields.push(["ca", info.ca]);
  if (withClosureSize) fields.push(["closureSize", closureSize(store, path)]);
  if (info.deriver) fields.push(["deriver", store.print(info.deriver)]);
  if (info.registrationTime) fields.push(["registrationTime", info.registrationTime]);
  if (info.ultimate) fields.push(["ultimate", true]);
  if (info.signatures.length > 0) fields.push(["signatures", [...info.signatures]]);
  return jsonObject(fields);
}

function sizeColumn(value: number): string {
  return `\t${String(value).padStart(11)}`;
}

function pathInfo(args: string[], flags: PathInfoFlags): void {
  const store = openStore(flags, "read");
  try {
    let paths = strings(args).map((a) => storePathArgument(store, a));
    if (flags.recursive) paths = computeClosure(paths, references(store));
    if (flags.json) {
      const unique = [...new Map(paths.map((p) => [p.baseName, p])).values()].sort(compareStorePaths);
      // No final newline: nix path-info --json prints none.
      out(printJsonCompact(unique.map((p) => pathInfoJson(store, p, flags.closureSize === true))));
      return;
    }
    const width = Math.max(0, ...paths.map((p) => store.print(p).length));
    for (const path of paths) {
      const info = store.queryPathInfo(path);
      if (!info) throw new InvalidPathError(store.print(path));
      let line = store.print(path);
      if (flags.size || flags.closureSize || flags.sigs) line = line.padEnd(width);
      if (flags.size) line += sizeColumn(info.narSize);
      if (flags.closureSize) line += sizeColumn(closureSize(store, path));
      if (flags.sigs) {
        const sigs = [...(info.ultimate ? ["ultimate"] : []), ...(info.ca ? [`ca:${info.ca}`] : []), ...info.signatures];
        line += `\t${sigs.join(" ")}`;
      }
      out(`${line}\n`);
    }
  } finally {
    store.close();
  }
}

export function registerPathInfo(cli: CAC): void {
  withStoreOptions(
    cli
      .command("path-info <...paths>", "Show what the store records about paths (like nix path-info)")
      .option("--json", "Print JSON, as nix path-info --json")
      .option("-S, --closure-size", "Include the closure size")
      .option("-s, --size", "Include the NAR size")
      .option("-r, --recursive", "Apply to the closure of the paths")
      .option("--sigs", "Show signatures (and 'ultimate', 'ca:')"),
  ).action(pathInfo);
}
