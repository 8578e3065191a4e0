/**
 * The whole store graph in memory, loaded with three queries in one
 * consistent read (instead of one query per path, as Nix 2.8's collector
 * does): valid paths, their references and derivers, and the recorded
 * outputs of derivations. Nodes are dense indices 0..count-1; edges are
 * kept in compressed-sparse-row form (an offsets array and a targets array).
 *
 * The liveness graph (store-layout.md 5.3) is built on top: an edge p -> q
 * means "if p is alive, q is alive": every reference of p (except p itself),
 * with keep-derivations the valid deriver of p, with keep-outputs every valid
 * recorded output of a derivation p.
 */
import { HASH_PART_LENGTH } from "../store-path/store-path.ts";
import type { LocalStore } from "../store/local-store.ts";

/** Edges in compressed-sparse-row form: the targets of node n are targets[start[n] .. start[n+1]). */
export interface Adjacency {
  readonly start: Int32Array;
  readonly targets: Int32Array;
}

/** Why an edge of the liveness graph exists (for explanations). */
export type EdgeKind = "reference" | "deriver" | "output";

export interface KeepSettings {
  keepOutputs: boolean;
  keepDerivations: boolean;
}

function buildAdjacency(count: number, from: Int32Array, to: Int32Array, edges: number): Adjacency {
  const start = new Int32Array(count + 1);
  for (let i = 0; i < edges; i++) start[from[i]! + 1]!++;
  for (let n = 0; n < count; n++) start[n + 1]! += start[n]!;
  const fill = start.slice(0, count);
  const targets = new Int32Array(edges);
  for (let i = 0; i < edges; i++) targets[fill[from[i]!]!++] = to[i]!;
  return { start, targets };
}

/** Edge list that grows as needed. */
class EdgeList {
  from = new Int32Array(1024);
  to = new Int32Array(1024);
  length = 0;

  push(a: number, b: number): void {
    if (this.length === this.from.length) {
      const from = new Int32Array(this.length * 2);
      const to = new Int32Array(this.length * 2);
      from.set(this.from);
      to.set(this.to);
      this.from = from;
      this.to = to;
    }
    this.from[this.length] = a;
    this.to[this.length] = b;
    this.length++;
  }

  adjacency(count: number, reversed = false): Adjacency {
    return reversed ? buildAdjacency(count, this.to, this.from, this.length) : buildAdjacency(count, this.from, this.to, this.length);
  }
}

export class StoreGraph {
  /** Full (logical) store path of each node. */
  readonly paths: string[];
  /** Node of a full store path. */
  readonly byPath: Map<string, number>;
  /** Row id in ValidPaths of each node. */
  readonly rowIds: Int32Array;
  /** References of each node, without self-references. */
  readonly references: Adjacency;
  /** Nodes referring to each node, without self-references. */
  readonly referrers: Adjacency;
  /** The deriver's node, or -1 when there is none or it is not valid. */
  readonly deriver: Int32Array;
  /** Valid recorded outputs of each derivation node. */
  readonly outputs: Adjacency;
  private hashIndex: Map<string, number> | undefined;

  private constructor(readonly storeDir: string, paths: string[], rowIds: Int32Array, references: EdgeList, deriver: Int32Array, outputs: EdgeList) {
    this.paths = paths;
    this.rowIds = rowIds;
    this.byPath = new Map();
    for (let n = 0; n < paths.length; n++) this.byPath.set(paths[n]!, n);
    this.references = references.adjacency(paths.length);
    this.referrers = references.adjacency(paths.length, true);
    this.deriver = deriver;
    this.outputs = outputs.adjacency(paths.length);
  }

  get count(): number {
    return this.paths.length;
  }

  /** Loads every valid path, reference, deriver and recorded output in one read transaction. */
  static load(store: LocalStore): StoreGraph {
    return store.db.snapshot(() => {
      const rows = store.db.all<{ id: number; path: string; deriver: string | null }>("select id, path, deriver from ValidPaths");
      let maxId = 0;
      for (const row of rows) if (row.id > maxId) maxId = row.id;
      const nodeOfRow = new Int32Array(maxId + 1).fill(-1);
      const paths: string[] = new Array<string>(rows.length);
      const rowIds = new Int32Array(rows.length);
      const byPath = new Map<string, number>();
      for (let n = 0; n < rows.length; n++) {
        const row = rows[n]!;
        paths[n] = row.path;
        rowIds[n] = row.id;
        nodeOfRow[row.id] = n;
        byPath.set(row.path, n);
      }
      const deriver = new Int32Array(rows.length).fill(-1);
      for (let n = 0; n < rows.length; n++) {
        const d = rows[n]!.deriver;
        if (d !== null) deriver[n] = byPath.get(d) ?? -1;
      }
      const references = new EdgeList();
      for (const ref of store.db.all<{ referrer: number; reference: number }>("select referrer, reference from Refs")) {
        if (ref.referrer === ref.reference) continue;
        const a = nodeOfRow[ref.referrer] ?? -1;
        const b = nodeOfRow[ref.reference] ?? -1;
        if (a >= 0 && b >= 0) references.push(a, b);
      }
      const outputs = new EdgeList();
      for (const out of store.db.all<{ drv: number; path: string }>("select drv, path from DerivationOutputs")) {
        const d = nodeOfRow[out.drv] ?? -1;
        const o = byPath.get(out.path);
        if (d >= 0 && o !== undefined) outputs.push(d, o);
      }
      return new StoreGraph(store.storeDir, paths, rowIds, references, deriver, outputs);
    });
  }

  /** Node of a valid path with this hash part, or -1. */
  nodeOfHashPart(hashPart: string): number {
    if (!this.hashIndex) {
      this.hashIndex = new Map();
      const skip = this.storeDir.length + 1;
      for (let n = 0; n < this.paths.length; n++) this.hashIndex.set(this.paths[n]!.slice(skip, skip + HASH_PART_LENGTH), n);
    }
    return this.hashIndex.get(hashPart) ?? -1;
  }

  baseName(node: number): string {
    return this.paths[node]!.slice(this.storeDir.length + 1);
  }

  isDerivation(node: number): boolean {
    return this.paths[node]!.endsWith(".drv");
  }

  /** The liveness graph for these settings, forward ("keeps alive") and reversed. */
  liveness(keep: KeepSettings): LivenessGraph {
    const edges = new EdgeList();
    for (let n = 0; n < this.count; n++) {
      for (let i = this.references.start[n]!; i < this.references.start[n + 1]!; i++) edges.push(n, this.references.targets[i]!);
      if (keep.keepDerivations && this.deriver[n]! >= 0 && this.deriver[n] !== n) edges.push(n, this.deriver[n]!);
      if (keep.keepOutputs) {
        for (let i = this.outputs.start[n]!; i < this.outputs.start[n + 1]!; i++) {
          if (this.outputs.targets[i] !== n) edges.push(n, this.outputs.targets[i]!);
        }
      }
    }
    return { graph: this, forward: edges.adjacency(this.count), reverse: edges.adjacency(this.count, true), keep };
  }
}

export interface LivenessGraph {
  readonly graph: StoreGraph;
  /** p -> q: q is alive when p is. */
  readonly forward: Adjacency;
  /** q -> p for every forward edge p -> q. */
  readonly reverse: Adjacency;
  readonly keep: KeepSettings;
}

/** Why `to` is kept alive by `from` in this graph (first matching edge kind). */
export function edgeKind(live: LivenessGraph, from: number, to: number): EdgeKind {
  const g = live.graph;
  for (let i = g.references.start[from]!; i < g.references.start[from + 1]!; i++) if (g.references.targets[i] === to) return "reference";
  if (live.keep.keepDerivations && g.deriver[from] === to) return "deriver";
  return "output";
}
