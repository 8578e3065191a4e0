/**
 * Closures and orderings over the reference graph, read from the database
 * path by path (cost proportional to the closure, not the store).
 */
import { type StorePath, compareStorePaths } from "../store-path/store-path.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";

/** Everything reachable from `roots` through `next` (roots included), sorted. */
export function computeClosure(roots: Iterable<StorePath>, next: (path: StorePath) => Iterable<StorePath>): StorePath[] {
  const seen = new Map<string, StorePath>();
  const queue: StorePath[] = [];
  for (const root of roots) {
    if (!seen.has(root.baseName)) {
      seen.set(root.baseName, root);
      queue.push(root);
    }
  }
  while (queue.length > 0) {
    const path = queue.pop()!;
    for (const n of next(path)) {
      if (seen.has(n.baseName)) continue;
      seen.set(n.baseName, n);
      queue.push(n);
    }
  }
  return [...seen.values()].sort(compareStorePaths);
}

export function references(store: LocalStore): (path: StorePath) => StorePath[] {
  return (path) => [...store.requireInfo(path).references];
}

export function referrers(store: LocalStore): (path: StorePath) => StorePath[] {
  return (path) => store.queryReferrers(path);
}

/**
 * `nix-store -qR`: the closure; with `includeOutputs`, also the valid outputs
 * of every derivation in it (and their closures).
 */
export function requisites(store: LocalStore, paths: readonly StorePath[], includeOutputs: boolean): StorePath[] {
  const refs = references(store);
  return computeClosure(paths, (path) => {
    const next = refs(path);
    if (includeOutputs && path.isDerivation()) {
      for (const output of store.queryDerivationOutputs(path).values()) if (store.isValid(output)) next.push(output);
    }
    return next;
  });
}

/** Sum of the NAR sizes of the closure. */
export function closureSize(store: LocalStore, path: StorePath): number {
  return computeClosure([path], references(store)).reduce((sum, p) => sum + store.requireInfo(p).narSize, 0);
}

/**
 * Orders `paths` so that a path comes after everything it refers to within the
 * set (references first), visiting in sorted order for a stable result, as
 * Nix's topoSortPaths does before its caller reverses it.
 */
export function sortReferencesFirst(paths: readonly StorePath[], next: (path: StorePath) => readonly StorePath[]): StorePath[] {
  const inSet = new Map(paths.map((p) => [p.baseName, p]));
  const done = new Set<string>();
  const out: StorePath[] = [];
  const visit = (path: StorePath) => {
    if (done.has(path.baseName)) return;
    done.add(path.baseName);
    for (const ref of [...next(path)].sort(compareStorePaths)) if (ref.baseName !== path.baseName && inSet.has(ref.baseName)) visit(inSet.get(ref.baseName)!);
    out.push(path);
  };
  for (const path of [...paths].sort(compareStorePaths)) visit(path);
  return out;
}

/**
 * `nix-store -q --referrers-closure`: everything that refers to `paths`,
 * directly or not (the paths included). As in Nix, a start path need not be
 * valid: it has no referrers then.
 */
export function referrersClosure(store: LocalStore, paths: readonly StorePath[]): StorePath[] {
  return computeClosure(paths, (path) => store.queryReferrers(path).filter((r) => r.baseName !== path.baseName));
}

/** Path infos read once each; undefined for a path that is not valid. */
export function pathInfoCache(store: LocalStore): (path: StorePath) => PathInfo | undefined {
  const cache = new Map<string, PathInfo | null>();
  return (path) => {
    let info = cache.get(path.baseName);
    if (info === undefined) {
      info = store.queryPathInfo(path) ?? null;
      cache.set(path.baseName, info);
    }
    return info ?? undefined;
  };
}

/**
 * The order in which `nix-store -q` prints a set of paths: Nix's
 * topoSortPaths reversed, i.e. references before their referrers. An invalid
 * path has no references here, as in Nix.
 */
export function referencesFirst(store: LocalStore, paths: readonly StorePath[], infoOf = pathInfoCache(store)): StorePath[] {
  return sortReferencesFirst(paths, (path) => infoOf(path)?.references ?? []);
}
