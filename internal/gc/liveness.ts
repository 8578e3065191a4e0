/**
 * Which paths are alive (store-layout.md 5.3): everything reachable from a
 * root in the liveness graph. One breadth-first pass over typed arrays; each
 * alive node remembers the node it was reached from, so that "why is this
 * alive?" can be answered with a chain back to its root.
 *
 * The dead set is what Nix 2.8's collector finds dead when it walks the store
 * directory: every entry that is not alive, plus every path that leads (in the
 * liveness graph) to such an entry. A valid path missing from disk that leads
 * to nothing dead is never visited by Nix, and is not dead here either.
 */
import { type EdgeKind, type LivenessGraph, edgeKind } from "./graph.ts";

export interface Liveness {
  readonly live: LivenessGraph;
  /** 1 for alive nodes. */
  readonly alive: Uint8Array;
  /** The node each alive node was reached from; -1 for roots and dead nodes. */
  readonly parent: Int32Array;
  /** One link (root file, /proc file, {temp:PID}) of every root node. */
  readonly rootLink: Map<number, string>;
}

/** Marks everything reachable from `roots` (node -> the link that makes it a root). */
export function computeLiveness(live: LivenessGraph, roots: ReadonlyMap<number, string>): Liveness {
  const count = live.graph.count;
  const alive = new Uint8Array(count);
  const parent = new Int32Array(count).fill(-1);
  const queue = new Int32Array(count);
  let head = 0;
  let tail = 0;
  for (const node of roots.keys()) {
    if (alive[node]) continue;
    alive[node] = 1;
    queue[tail++] = node;
  }
  const { start, targets } = live.forward;
  while (head < tail) {
    const node = queue[head++]!;
    for (let i = start[node]!; i < start[node + 1]!; i++) {
      const next = targets[i]!;
      if (alive[next]) continue;
      alive[next] = 1;
      parent[next] = node;
      queue[tail++] = next;
    }
  }
  return { live, alive, parent, rootLink: new Map(roots) };
}

/** Marks `node` and everything it keeps alive in `mask` (for paths kept during a collection). */
export function markClosure(live: LivenessGraph, node: number, mask: Uint8Array): void {
  if (mask[node]) return;
  const stack = [node];
  mask[node] = 1;
  const { start, targets } = live.forward;
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (let i = start[n]!; i < start[n + 1]!; i++) {
      const next = targets[i]!;
      if (!mask[next]) {
        mask[next] = 1;
        stack.push(next);
      }
    }
  }
}

/**
 * The dead valid nodes: the not-alive nodes among `onDisk` (valid nodes with
 * an entry in the store directory) and every node that leads to one of them.
 */
export function deadNodes(liveness: Liveness, onDisk: Uint8Array): Uint8Array {
  const { alive, live } = liveness;
  const count = live.graph.count;
  const dead = new Uint8Array(count);
  const stack: number[] = [];
  for (let n = 0; n < count; n++) {
    if (onDisk[n] && !alive[n]) {
      dead[n] = 1;
      stack.push(n);
    }
  }
  const { start, targets } = live.reverse;
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (let i = start[n]!; i < start[n + 1]!; i++) {
      const prev = targets[i]!;
      // A node leading to a dead node cannot be alive (it would make that node alive).
      if (!dead[prev] && !alive[prev]) {
        dead[prev] = 1;
        stack.push(prev);
      }
    }
  }
  return dead;
}

export interface ChainStep {
  readonly node: number;
  /** How the previous step keeps this one alive (undefined for the root). */
  readonly kind: EdgeKind | undefined;
}

/** The chain from a root to `node` (root first), or undefined when it is not alive. */
export function chainTo(liveness: Liveness, node: number): ChainStep[] | undefined {
  if (!liveness.alive[node]) return undefined;
  const steps: ChainStep[] = [];
  for (let n = node; n >= 0; n = liveness.parent[n]!) {
    const p = liveness.parent[n]!;
    steps.push({ node: n, kind: p >= 0 ? edgeKind(liveness.live, p, n) : undefined });
  }
  return steps.reverse();
}

const KIND_TEXT: Record<EdgeKind, string> = {
  reference: "which refers to",
  deriver: "whose deriver is (keep-derivations)",
  output: "which has the output (keep-outputs)",
};

/** "root 'LINK' -> 'A', which refers to 'B', whose deriver is (keep-derivations) 'C'" */
export function describeChain(liveness: Liveness, steps: readonly ChainStep[]): string {
  const paths = liveness.live.graph.paths;
  const first = steps[0]!;
  const link = liveness.rootLink.get(first.node) ?? "?";
  let text = link.startsWith("{temp:") ? `'${paths[first.node]}' is a temporary root of process ${link.slice(6, -1)}` : `'${paths[first.node]}' is a root (${link})`;
  for (const step of steps.slice(1)) text += `, ${KIND_TEXT[step.kind!]} '${paths[step.node]}'`;
  return text;
}
