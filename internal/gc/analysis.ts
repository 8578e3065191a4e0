/**
 * The collector's view of the store at the start of a session: the graph
 * loaded once, the roots (permanent, runtime and temporary), and the alive
 * set computed from them. Used by `gc` and by deleting specific paths.
 */
import type { LocalStore } from "../store/local-store.ts";
import { HASH_PART_LENGTH } from "../store-path/store-path.ts";
import { type KeepSettings, type LivenessGraph, StoreGraph } from "./graph.ts";
import { type Liveness, computeLiveness } from "./liveness.ts";
import { type RootContext, type RootMap, findPermanentRoots } from "./roots.ts";
import { findRuntimeRoots } from "./runtime-roots.ts";
import type { GcSession } from "./session.ts";

export interface StoreAnalysis {
  readonly graph: StoreGraph;
  readonly live: LivenessGraph;
  readonly liveness: Liveness;
  /** Permanent and runtime roots (valid paths only). */
  readonly roots: RootMap;
}

/** keep-outputs and keep-derivations from the store's settings. */
export function keepSettingsOf(store: LocalStore): KeepSettings {
  return { keepOutputs: store.settings.bool("keep-outputs"), keepDerivations: store.settings.bool("keep-derivations") };
}

export function rootContext(store: LocalStore, isValid: (path: string) => boolean, log: (message: string) => void): RootContext {
  return { storeDir: store.storeDir, realStoreDir: store.realStoreDir, stateDir: store.stateDir, isValid, log };
}

export function hashPartOf(storeDir: string, path: string): string {
  return path.slice(storeDir.length + 1, storeDir.length + 1 + HASH_PART_LENGTH);
}

/** Loads the graph, finds the roots, computes liveness. Call with the session started (gc.lock held). */
export function analyseStore(store: LocalStore, session: GcSession, keep: KeepSettings, log: (message: string) => void): StoreAnalysis {
  const graph = StoreGraph.load(store, keep);
  const ctx = rootContext(store, (path) => graph.byPath.has(path), log);
  const roots = findPermanentRoots(ctx);
  findRuntimeRoots(ctx, roots);
  const rootNodes = new Map<number, string>();
  for (const [path, links] of roots) rootNodes.set(graph.byPath.get(path), [...links].sort()[0]!);
  // Temporary roots protect by hash part: `<path>.lock` claims `<path>` too.
  for (const hashPart of session.tempRootHashParts()) {
    const node = graph.nodeOfHashPart(hashPart);
    if (node >= 0 && !rootNodes.has(node)) rootNodes.set(node, session.tempRootOwner(hashPart) ?? "{temp}");
  }
  const live = graph.liveness(keep);
  return { graph, live, liveness: computeLiveness(live, rootNodes), roots };
}
