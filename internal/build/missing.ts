/**
 * What realising some paths would take, as Nix's queryMissing answers it
 * with no substituter able to help (bunix has none): a derivation whose
 * wanted outputs are not all valid will be built, and so, recursively, the
 * input derivations it needs; a missing path that is not a derivation's
 * output, or a derivation that is itself missing, is unknown. Input sources
 * are not followed (Nix does not either).
 */
import type { StorePath } from "../store-path/store-path.ts";
import type { LocalStore } from "../store/local-store.ts";
import { readStoreDerivation } from "./inputs.ts";

/** A path to make valid, or outputs of a derivation to build (all when `outputs` is undefined). */
export type Wanted = { kind: "opaque"; path: StorePath } | { kind: "built"; drvPath: StorePath; outputs?: readonly string[] };

export interface Missing {
  willBuild: StorePath[];
  willSubstitute: StorePath[];
  unknown: StorePath[];
  downloadSize: number;
  narSize: number;
}

export function queryMissing(store: LocalStore, targets: readonly Wanted[]): Missing {
  const willBuild = new Map<string, StorePath>();
  const unknown = new Map<string, StorePath>();
  const seen = new Set<string>();
  const queue = [...targets];
  for (let wanted = queue.shift(); wanted !== undefined; wanted = queue.shift()) {
    const key = wanted.kind === "opaque" ? wanted.path.baseName : `${wanted.drvPath.baseName}!${wanted.outputs?.join(",") ?? "*"}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (wanted.kind === "opaque") {
      if (!store.isValid(wanted.path)) unknown.set(wanted.path.baseName, wanted.path);
      continue;
    }
    const { drvPath, outputs } = wanted;
    if (!store.isValid(drvPath)) {
      unknown.set(drvPath.baseName, drvPath);
      continue;
    }
    // The outputs the database records for the derivation, as Nix looks them up.
    const recorded = store.queryDerivationOutputs(drvPath);
    const invalid = [...recorded].filter(([name, path]) => (outputs === undefined || outputs.includes(name)) && !store.isValid(path));
    if (invalid.length === 0) continue;
    willBuild.set(drvPath.baseName, drvPath);
    for (const [input, names] of readStoreDerivation(store, drvPath).inputDrvs) queue.push({ kind: "built", drvPath: store.parse(input), outputs: names });
  }
  const sorted = (paths: Map<string, StorePath>) => [...paths.values()].sort((a, b) => (a.baseName < b.baseName ? -1 : a.baseName > b.baseName ? 1 : 0));
  return { willBuild: sorted(willBuild), willSubstitute: [], unknown: sorted(unknown), downloadSize: 0, narSize: 0 };
}
