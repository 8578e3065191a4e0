/**
 * What a derivation's build may see: the closure of its input sources and of
 * the wanted outputs of its input derivations, plus the closures of store
 * paths named in `sandbox-paths` and by the pre-build hook.
 */
import { readFileSync } from "node:fs";
import { parseDerivation } from "../derivation/aterm-parse.ts";
import { classifyOutput } from "../derivation/output-kind.ts";
import type { Derivation } from "../derivation/types.ts";
import { makeFixedOutputPath } from "../store-path/make.ts";
import { type StorePath, storePathContaining } from "../store-path/store-path.ts";
import { requisites } from "../store/closure.ts";
import type { LocalStore } from "../store/local-store.ts";
import { BuildError } from "./errors.ts";

/** Output name -> path for every output whose path is known before building. */
export function outputPaths(store: LocalStore, drv: Derivation, drvPath: StorePath): Map<string, StorePath> {
  const paths = new Map<string, StorePath>();
  for (const [name, output] of drv.outputs) {
    const kind = classifyOutput(name, output, store.storeDir);
    if (kind.kind === "input-addressed") paths.set(name, kind.path);
    else if (kind.kind === "fixed") paths.set(name, makeFixedOutputPath(kind.method, kind.hash, drvPath.derivationName, store.storeDir));
    else throw new BuildError(`derivation '${store.print(drvPath)}' has a ${kind.kind} output '${name}' (experimental content-addressed derivations are not supported)`);
  }
  return paths;
}

export function readStoreDerivation(store: LocalStore, drvPath: StorePath): Derivation {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(store.realPath(drvPath));
  } catch (error) {
    throw new BuildError(`cannot read derivation '${store.print(drvPath)}': ${(error as Error).message}`, { cause: error });
  }
  try {
    return parseDerivation(bytes);
  } catch (error) {
    throw new BuildError(`error parsing derivation '${store.print(drvPath)}': ${(error as Error).message}`, { cause: error });
  }
}

/** The wanted outputs of every input derivation, which must all be valid by now. */
export function inputOutputs(store: LocalStore, drv: Derivation): StorePath[] {
  const paths: StorePath[] = [];
  for (const [drvPathText, wanted] of drv.inputDrvs) {
    const inputDrvPath = store.parse(drvPathText);
    const outputs = outputPaths(store, readStoreDerivation(store, inputDrvPath), inputDrvPath);
    for (const name of wanted) {
      const path = outputs.get(name);
      if (!path) throw new BuildError(`derivation '${drvPathText}' has no output '${name}'`);
      if (!store.isValid(path)) throw new BuildError(`dependency '${store.print(path)}' (output '${name}' of '${drvPathText}') is not valid`);
      paths.push(path);
    }
  }
  return paths;
}

/** The closure the builder can see. */
export function inputClosure(store: LocalStore, drv: Derivation, extra: readonly StorePath[] = []): StorePath[] {
  const roots = [...inputOutputs(store, drv), ...drv.inputSrcs.map((p) => store.parse(p)), ...extra];
  for (const root of roots) if (!store.isValid(root)) throw new BuildError(`input '${store.print(root)}' is not valid`);
  return requisites(store, roots, false);
}

export interface SandboxPathSetting {
  target: string;
  source: string;
  optional: boolean;
}

/** `sandbox-paths` items: `PATH`, `TARGET=SOURCE`, with an optional trailing `?`. */
export function parseSandboxPaths(items: readonly string[]): SandboxPathSetting[] {
  return items
    .filter((item) => item !== "")
    .map((item) => {
      const optional = item.endsWith("?");
      const text = optional ? item.slice(0, -1) : item;
      const eq = text.indexOf("=");
      return eq < 0 ? { target: text, source: text, optional } : { target: text.slice(0, eq), source: text.slice(eq + 1), optional };
    });
}

/** Store paths among sandbox path sources: their closures must be visible too. */
export function storePathsAmong(store: LocalStore, entries: readonly SandboxPathSetting[]): StorePath[] {
  const found: StorePath[] = [];
  for (const entry of entries) {
    if (!entry.source.startsWith(`${store.storeDir}/`)) continue;
    const path = storePathContaining(store.storeDir, entry.source);
    if (store.isValid(path)) found.push(path);
  }
  return found;
}
