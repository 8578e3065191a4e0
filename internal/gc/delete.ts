/**
 * Deleting specific paths (`nix-store --delete`, `bunix store delete`) under
 * a GC session, with Nix 2.8's rule: a path can go only if nothing outside
 * the request keeps it alive — no root reaches it (permanent, runtime or
 * temporary), and no valid path outside the request refers to it, or with
 * keep-derivations has it as deriver, or with keep-outputs has it as output.
 * Everything is checked before anything is deleted, and a refusal says which
 * root, process or path keeps the path alive, and through which chain.
 * Deletion itself is the collector's (sweep.ts): referrers first, out of the
 * database before out of the store directory, through the trash.
 */
import { BunixError } from "../errors.ts";
import type { StorePath } from "../store-path/store-path.ts";
import type { LocalStore } from "../store/local-store.ts";
import { type StoreAnalysis, analyseStore, keepSettingsOf } from "./analysis.ts";
import { edgeKind } from "./graph.ts";
import { type LinksReport, removeUnusedLinksInSlices } from "./links.ts";
import { chainTo, describeChain } from "./liveness.ts";
import { deletionOrder } from "./scc.ts";
import { GcSession } from "./session.ts";
import { Sweeper } from "./sweep.ts";
import { Trash } from "./trash.ts";

export class StillAliveError extends BunixError {
  override name = "StillAliveError";
}

export interface DeleteResult {
  deleted: StorePath[];
  bytesFreed: number;
  /** The .links clean-up done afterwards. */
  links: LinksReport;
}

export { TRASH_NAME } from "./trash.ts";

const NEEDS_TEXT = { reference: "refers to", deriver: "has as deriver (keep-derivations)", output: "has as output (keep-outputs)" } as const;

/** Why `node` cannot be deleted with `wanted`, or undefined when it can. */
function whyAlive(analysis: StoreAnalysis, wanted: Uint8Array, node: number): string | undefined {
  const { liveness, live, graph } = analysis;
  const chain = chainTo(liveness, node);
  if (chain) return describeChain(liveness, chain);
  // Something outside the request that needs it, directly or through other requested paths.
  const parent = new Map<number, number>([[node, -1]]);
  const queue = [node];
  for (let head = 0; head < queue.length; head++) {
    const n = queue[head]!;
    for (let i = live.reverse.start[n]!; i < live.reverse.start[n + 1]!; i++) {
      const prev = live.reverse.targets[i]!;
      if (parent.has(prev)) continue;
      parent.set(prev, n);
      if (!wanted[prev]) {
        const steps: string[] = [];
        for (let from = prev, to = n; to >= 0; from = to, to = parent.get(to)!) steps.push(`'${graph.paths[from]}' ${NEEDS_TEXT[edgeKind(live, from, to)]} '${graph.paths[to]}'`);
        return steps.join(", and ");
      }
      queue.push(prev);
    }
  }
  return undefined;
}

export async function deletePaths(store: LocalStore, requested: readonly StorePath[], log: (message: string) => void = () => {}): Promise<DeleteResult> {
  const session = await GcSession.start(store.stateDir, store.storeDir, log);
  const trash = new Trash(store.realStoreDir);
  try {
    log("finding garbage collector roots...");
    const analysis = analyseStore(store, session, keepSettingsOf(store), log);
    const { graph } = analysis;
    const byPath = new Map(requested.map((p) => [store.print(p), p]));
    const wanted = new Uint8Array(graph.count);
    for (const path of byPath.keys()) {
      const node = graph.byPath.get(path);
      if (node >= 0) wanted[node] = 1;
    }
    const refuse = (path: string, why: string) => {
      throw new StillAliveError(`cannot delete path '${path}' since it is still alive: ${why}`);
    };
    // Everything is checked before anything is deleted.
    for (const [path, storePath] of byPath) {
      const owner = session.tempRootOwner(storePath.hashPart);
      if (owner !== undefined) refuse(path, `it is in use by process ${owner}`);
      const node = graph.byPath.get(path);
      const why = node < 0 ? undefined : whyAlive(analysis, wanted, node);
      if (why !== undefined) refuse(path, why);
    }
    const sweeper = new Sweeper(store, session, trash, { maxFreed: Infinity, dryRun: false, onDeleted: () => {}, onProgress: () => {} });
    await sweeper.deleteComponents(analysis.live, deletionOrder(analysis.live, wanted));
    for (const [path, storePath] of byPath) {
      if (graph.byPath.has(path)) continue;
      if (!(await sweeper.removeEntry(storePath.baseName, storePath.hashPart))) refuse(path, `it is in use by process ${session.tempRootOwner(storePath.hashPart)}`);
    }
    const deleted = new Set(sweeper.deleted);
    for (const path of byPath.keys()) if (!deleted.has(path)) refuse(path, "a running process claimed it during the deletion");
    const links = await removeUnusedLinksInSlices(store.realStoreDir, () => session.yieldToClients());
    return { deleted: sweeper.deleted.map((p) => byPath.get(p)!), bytesFreed: sweeper.bytesFreed, links };
  } finally {
    session.close();
    trash.close();
  }
}
