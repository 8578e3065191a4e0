/**
 * The order in which dead paths are deleted. keep-outputs and
 * keep-derivations make cycles in the liveness graph (a derivation keeps its
 * outputs, each output keeps its derivation), so the graph is split into
 * strongly connected components (Tarjan's algorithm, iterative), and each
 * component is kept or deleted as a unit. Components come referrers first:
 * a component is deleted before every component it keeps alive, so the
 * database never holds a reference to a deleted path, and a process that
 * claims a path in a later component finds everything it needs still there.
 * Inside a component, paths are ordered referrers first by references.
 */
import type { LivenessGraph } from "./graph.ts";

export interface DeletionOrder {
  /** Nodes, component after component. */
  readonly nodes: Int32Array;
  /** Component c is nodes[componentStart[c] .. componentStart[c+1]). */
  readonly componentStart: Int32Array;
}

export function componentCount(order: DeletionOrder): number {
  return order.componentStart.length - 1;
}

/** Components of the nodes in `mask`, referrers first. */
export function deletionOrder(live: LivenessGraph, mask: Uint8Array): DeletionOrder {
  const count = live.graph.count;
  const { start, targets } = live.forward;
  const index = new Int32Array(count).fill(-1);
  const low = new Int32Array(count);
  const onStack = new Uint8Array(count);
  const stack: number[] = [];
  // Tarjan emits a component after every component reachable from it (sinks first).
  const emitted: number[] = [];
  const emittedStart: number[] = [0];
  const callNode: number[] = [];
  const callEdge: number[] = [];
  let counter = 0;
  for (let root = 0; root < count; root++) {
    if (!mask[root] || index[root] !== -1) continue;
    callNode.push(root);
    callEdge.push(start[root]!);
    index[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (callNode.length > 0) {
      const top = callNode.length - 1;
      const v = callNode[top]!;
      const edge = callEdge[top]!;
      if (edge < start[v + 1]!) {
        callEdge[top] = edge + 1;
        const w = targets[edge]!;
        if (!mask[w]) continue;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          callNode.push(w);
          callEdge.push(start[w]!);
        } else if (onStack[w]) {
          low[v] = Math.min(low[v]!, index[w]!);
        }
        continue;
      }
      callNode.pop();
      callEdge.pop();
      if (callNode.length > 0) {
        const u = callNode[callNode.length - 1]!;
        low[u] = Math.min(low[u]!, low[v]!);
      }
      if (low[v] === index[v]) {
        for (;;) {
          const w = stack.pop()!;
          onStack[w] = 0;
          emitted.push(w);
          if (w === v) break;
        }
        emittedStart.push(emitted.length);
      }
    }
  }
  // Reverse the component order (sources first), ordering each component's members.
  const nodes = new Int32Array(emitted.length);
  const componentStart = new Int32Array(emittedStart.length);
  let at = 0;
  for (let c = emittedStart.length - 2, k = 0; c >= 0; c--, k++) {
    componentStart[k] = at;
    const members = emitted.slice(emittedStart[c]!, emittedStart[c + 1]!);
    for (const node of members.length > 1 ? referrersFirst(live, members) : members) nodes[at++] = node;
  }
  componentStart[emittedStart.length - 1] = at;
  return { nodes, componentStart };
}

/** Members of one component ordered so that a path comes before the paths it refers to. */
function referrersFirst(live: LivenessGraph, members: number[]): number[] {
  const refs = live.graph.references;
  const inside = new Map<number, number>(members.map((m) => [m, 0]));
  // pending[m] = number of referrers of m inside the component not yet placed
  for (const m of members) {
    for (let i = refs.start[m]!; i < refs.start[m + 1]!; i++) {
      const r = refs.targets[i]!;
      if (inside.has(r)) inside.set(r, inside.get(r)! + 1);
    }
  }
  const ready = members.filter((m) => inside.get(m) === 0);
  const out: number[] = [];
  while (ready.length > 0) {
    const m = ready.pop()!;
    out.push(m);
    for (let i = refs.start[m]!; i < refs.start[m + 1]!; i++) {
      const r = refs.targets[i]!;
      const pending = inside.get(r);
      if (pending === undefined) continue;
      inside.set(r, pending - 1);
      if (pending === 1) ready.push(r);
    }
  }
  // References never form cycles between distinct paths; keep any leftovers anyway.
  if (out.length < members.length) for (const m of members) if (!out.includes(m)) out.push(m);
  return out;
}
