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

/** Edges as two parallel arrays of a known maximum size. */
class Edges {
  readonly from: Int32Array;
  readonly to: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.from = new Int32Array(capacity);
    this.to = new Int32Array(capacity);
  }

  push(a: number, b: number): void {
    this.from[this.length] = a;
    this.to[this.length] = b;
    this.length++;
  }

  adjacency(count: number, reversed = false): Adjacency {
    return reversed ? buildAdjacency(count, this.to, this.from, this.length) : buildAdjacency(count, this.from, this.to, this.length);
  }
}

/**
 * Full store path -> node, as an open-addressing table over typed arrays
 * keyed by the first characters of the hash part (random by construction):
 * looking up tens of thousands of fresh strings in a Map costs more than
 * everything else the collector does.
 */
export class PathIndex {
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly offset: number;

  constructor(
    private readonly paths: readonly string[],
    storeDir: string,
  ) {
    this.offset = storeDir.length + 1;
    let size = 1024;
    while (size < paths.length * 2) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let n = 0; n < paths.length; n++) {
      let slot = this.hash(paths[n]!, this.offset) & this.mask;
      while (this.slots[slot] !== -1) slot = (slot + 1) & this.mask;
      this.slots[slot] = n;
    }
  }

  private hash(text: string, at: number): number {
    let h = 0;
    for (let i = at; i < at + 8 && i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x9e3779b1);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** Node of a full store path, or -1. */
  get(path: string): number {
    for (let slot = this.hash(path, this.offset) & this.mask; ; slot = (slot + 1) & this.mask) {
      const n = this.slots[slot]!;
      if (n === -1 || this.paths[n] === path) return n;
    }
  }

  /** Node of the entry `name` of the store directory, or -1 (no string is built). */
  getBaseName(name: string): number {
    for (let slot = this.hash(name, 0) & this.mask; ; slot = (slot + 1) & this.mask) {
      const n = this.slots[slot]!;
      if (n === -1) return -1;
      const path = this.paths[n]!;
      if (path.length === this.offset + name.length && path.endsWith(name)) return n;
    }
  }

  /** Node of the entry whose name is these bytes, or -1. */
  getBaseNameBytes(name: Uint8Array): number {
    let h = 0;
    for (let i = 0; i < 8 && i < name.length; i++) h = Math.imul(h ^ name[i]!, 0x9e3779b1);
    h = (h ^ (h >>> 15)) >>> 0;
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const n = this.slots[slot]!;
      if (n === -1) return -1;
      const path = this.paths[n]!;
      if (path.length !== this.offset + name.length) continue;
      let same = true;
      for (let i = 0; i < name.length && same; i++) same = path.charCodeAt(this.offset + i) === name[i];
      if (same) return n;
    }
  }

  has(path: string): boolean {
    return this.get(path) >= 0;
  }
}

export class StoreGraph {
  /** Full (logical) store path of each node. */
  readonly paths: string[];
  /** Node of a full store path. */
  readonly byPath: PathIndex;
  /** Row id in ValidPaths of each node. */
  readonly rowIds: Int32Array;
  /** References of each node, without self-references. */
  readonly references: Adjacency;
  /** The deriver's node, or -1 when there is none or it is not valid (loaded with keep-derivations only). */
  readonly deriver: Int32Array;
  /** Valid recorded outputs of each derivation node (loaded with keep-outputs only). */
  readonly outputs: Adjacency;
  private hashIndex: Map<string, number> | undefined;

  private constructor(readonly storeDir: string, paths: string[], byPath: PathIndex, rowIds: Int32Array, references: Edges, deriver: Int32Array, outputs: Edges) {
    this.paths = paths;
    this.byPath = byPath;
    this.rowIds = rowIds;
    this.references = references.adjacency(paths.length);
    this.deriver = deriver;
    this.outputs = outputs.adjacency(paths.length);
  }

  get count(): number {
    return this.paths.length;
  }

  /**
   * Loads every valid path and reference in one read transaction, with the
   * derivers when keep-derivations and the recorded outputs when keep-outputs
   * needs them.
   */
  static load(store: LocalStore, keep: KeepSettings): StoreGraph {
    return store.db.snapshot(() => {
      const rows = store.db.all<{ id: number; path: string; deriver: string | null }>(
        keep.keepDerivations ? "select id, path, deriver from ValidPaths" : "select id, path, null as deriver from ValidPaths",
      );
      let maxId = 0;
      for (const row of rows) if (row.id > maxId) maxId = row.id;
      const nodeOfRow = new Int32Array(maxId + 1).fill(-1);
      const paths: string[] = new Array<string>(rows.length);
      const rowIds = new Int32Array(rows.length);
      for (let n = 0; n < rows.length; n++) {
        const row = rows[n]!;
        paths[n] = row.path;
        rowIds[n] = row.id;
        nodeOfRow[row.id] = n;
      }
      const byPath = new PathIndex(paths, store.storeDir);
      const deriver = new Int32Array(rows.length).fill(-1);
      for (let n = 0; n < rows.length; n++) {
        const d = rows[n]!.deriver;
        if (d !== null) deriver[n] = byPath.get(d);
      }
      const refRows = store.db.all<{ a: number; b: number }>("select referrer as a, reference as b from Refs where referrer != reference");
      const references = new Edges(refRows.length);
      for (const ref of refRows) {
        const a = nodeOfRow[ref.a] ?? -1;
        const b = nodeOfRow[ref.b] ?? -1;
        if (a >= 0 && b >= 0) references.push(a, b);
      }
      const outputRows = keep.keepOutputs ? store.db.all<{ drv: number; path: string }>("select drv, path from DerivationOutputs") : [];
      const outputs = new Edges(outputRows.length);
      for (const out of outputRows) {
        const d = nodeOfRow[out.drv] ?? -1;
        const o = byPath.get(out.path);
        if (d >= 0 && o >= 0) outputs.push(d, o);
      }
      return new StoreGraph(store.storeDir, paths, byPath, rowIds, references, deriver, outputs);
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
    const refs = this.references;
    const outs = this.outputs;
    const capacity = refs.targets.length + (keep.keepDerivations ? this.count : 0) + (keep.keepOutputs ? outs.targets.length : 0);
    const edges = new Edges(capacity);
    for (let n = 0; n < this.count; n++) {
      for (let i = refs.start[n]!; i < refs.start[n + 1]!; i++) edges.push(n, refs.targets[i]!);
      if (keep.keepDerivations && this.deriver[n]! >= 0 && this.deriver[n] !== n) edges.push(n, this.deriver[n]!);
      if (keep.keepOutputs) {
        for (let i = outs.start[n]!; i < outs.start[n + 1]!; i++) if (outs.targets[i] !== n) edges.push(n, outs.targets[i]!);
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
