/**
 * The store queries of `nix-store -q` and `bunix store query`, with Nix
 * 2.8's semantics (src/nix-store/nix-store.cc, opQuery):
 *
 * - set queries (references, referrers, requisites, referrers closure, valid
 *   derivers) collect the union over every argument, then print it
 *   references-first (Nix's topoSortPaths reversed);
 * - `--outputs` of a derivation are the output paths its `.drv` file states
 *   (not the database), sorted; any other path is its own output;
 * - which queries need a valid path follows Nix: references, requisites,
 *   deriver, hash, size and tree do; referrers and the referrers closure of
 *   an invalid path are empty / the path itself.
 */
import { readFileSync } from "node:fs";
import { parseDerivation } from "../derivation/aterm-parse.ts";
import { classifyOutput } from "../derivation/output-kind.ts";
import { type ByteString, type Derivation, DerivationError, toUtf8 } from "../derivation/types.ts";
import { BunixError, SystemError, UsageError } from "../errors.ts";
import { makeFixedOutputPath, outputPathName } from "../store-path/make.ts";
import { type StorePath, compareStorePaths } from "../store-path/store-path.ts";
import { pathInfoCache, referencesFirst, referrersClosure, requisites } from "./closure.ts";
import { StoreError } from "./errors.ts";
import type { LocalStore } from "./local-store.ts";

/** Queries whose answer is one set of paths for all arguments together. */
export type PathSetQuery = "references" | "referrers" | "requisites" | "referrers-closure" | "valid-derivers";

/** Reads and parses a valid `.drv` in the store (Nix's derivationFromPath). */
export function readStoreDerivation(store: LocalStore, drvPath: StorePath): Derivation {
  // Nix would try to substitute it; with no substituters this is its message.
  if (!store.isValid(drvPath)) throw new StoreError(`path '${store.print(drvPath)}' does not exist and cannot be created`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(store.realPath(drvPath));
  } catch (error) {
    throw new SystemError(`reading derivation '${store.print(drvPath)}'`, error);
  }
  try {
    return parseDerivation(bytes);
  } catch (error) {
    if (error instanceof BunixError) throw new DerivationError(`derivation '${store.print(drvPath)}': ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * The output paths a derivation's file states (Nix's outputsAndOptPaths),
 * sorted: input-addressed outputs name their path, fixed outputs are computed
 * from their hash; floating and deferred outputs have none yet.
 */
export function derivationOutputPaths(store: LocalStore, drvPath: StorePath): StorePath[] {
  const drv = readStoreDerivation(store, drvPath);
  const paths: StorePath[] = [];
  for (const [name, output] of drv.outputs) {
    const kind = classifyOutput(name, output, store.storeDir);
    if (kind.kind === "input-addressed") paths.push(kind.path);
    else if (kind.kind === "fixed") paths.push(makeFixedOutputPath(kind.method, kind.hash, outputPathName(drvPath.derivationName, name), store.storeDir));
    else throw new UsageError("Cannot use output path of floating content-addressed derivation until we know what it is (e.g. by building it)");
  }
  return dedupeSorted(paths);
}

/** `--use-output`: a derivation stands for its outputs, any other path for itself. */
export function useOutputs(store: LocalStore, path: StorePath, useOutput: boolean): StorePath[] {
  return useOutput && path.isDerivation() ? derivationOutputPaths(store, path) : [path];
}

/**
 * Whether `path` needs nothing built or substituted: a valid path, or a valid
 * derivation whose outputs are all valid.
 */
export function isRealised(store: LocalStore, path: StorePath): boolean {
  if (!store.isValid(path)) return false;
  if (!path.isDerivation()) return true;
  const recorded = [...store.queryDerivationOutputs(path).values()];
  return [...recorded, ...derivationOutputPaths(store, path)].every((p) => store.isValid(p));
}

/** The answer to a set query over `paths`, in the order Nix prints it. */
export function queryPathSet(store: LocalStore, query: PathSetQuery, paths: readonly StorePath[], includeOutputs = false): StorePath[] {
  return store.db.snapshot(() => {
    const infoOf = pathInfoCache(store);
    const found = new Map<string, StorePath>();
    const add = (list: Iterable<StorePath>) => {
      for (const p of list) found.set(p.baseName, p);
    };
    switch (query) {
      case "requisites":
        add(requisites(store, paths, includeOutputs));
        break;
      case "references":
        for (const path of paths) add((infoOf(path) ?? store.requireInfo(path)).references);
        break;
      case "referrers":
        for (const path of paths) add(store.queryReferrers(path));
        break;
      case "referrers-closure":
        add(referrersClosure(store, paths));
        break;
      case "valid-derivers":
        for (const path of paths) add(store.queryValidDerivers(path));
        break;
    }
    return referencesFirst(store, [...found.values()], infoOf);
  });
}

/**
 * `--binding NAME`: the value of an environment variable of a derivation, or
 * of the recorded deriver of an output (a byte string).
 */
export function environmentBinding(store: LocalStore, path: StorePath, name: ByteString): ByteString {
  let drvPath = path;
  if (!path.isDerivation()) {
    const deriver = store.requireInfo(path).deriver;
    if (!deriver) throw new StoreError(`deriver of path '${store.print(path)}' is not known`);
    drvPath = deriver;
  }
  const value = readStoreDerivation(store, drvPath).env.get(name);
  if (value === undefined) throw new StoreError(`derivation '${store.print(drvPath)}' has no environment binding named '${toUtf8(name)}'`);
  return value;
}

/** `--deriver`: the recorded deriver, or Nix's `unknown-deriver`. */
export function deriverText(store: LocalStore, path: StorePath): string {
  const deriver = store.requireInfo(path).deriver;
  return deriver ? store.print(deriver) : "unknown-deriver";
}

/** `--hash`: the NAR hash as `sha256:<base-32>`. */
export function narHashText(store: LocalStore, path: StorePath): string {
  return store.requireInfo(path).narHash.format("base32", true);
}

export function narSize(store: LocalStore, path: StorePath): number {
  return store.requireInfo(path).narSize;
}

function dedupeSorted(paths: StorePath[]): StorePath[] {
  const unique = new Map(paths.map((p) => [p.baseName, p]));
  return [...unique.values()].sort(compareStorePaths);
}
