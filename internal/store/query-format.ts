/**
 * The graph renderings of `nix-store -q`: `--tree`, `--graph` (Graphviz dot)
 * and `--graphml`, byte for byte as Nix 2.8 prints them
 * (src/nix-store/nix-store.cc printTree, dotgraph.cc, graphml.cc).
 *
 * Each is a generator of output lines so that, as in Nix, whatever precedes
 * an error (an invalid path) is printed before the error surfaces.
 *
 * - tree: depth first; a node's references are printed references-first
 *   (Nix's topoSortPaths reversed), which keeps the tree flat; a node already
 *   printed anywhere (in this tree or an earlier root's) shows as `[...]`.
 *   A self reference is therefore printed as a repeated child.
 * - dot and GraphML: a work list ordered like Nix's std::set of paths (the
 *   smallest base name first); each node, then an edge per reference other
 *   than itself. Dot edges cycle through six colours.
 */
import { type StorePath, compareStorePaths } from "../store-path/store-path.ts";
import { pathInfoCache, referencesFirst } from "./closure.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";

const TREE_CONN = "├───";
const TREE_LAST = "└───";
const TREE_LINE = "│   ";
const TREE_NULL = "    ";

/** `nix-store -q --tree` of each root in turn, sharing the set of printed nodes. */
export function* treeLines(store: LocalStore, roots: Iterable<StorePath>): Generator<string> {
  const done = new Set<string>();
  const cached = pathInfoCache(store);
  const infoOf = requiredInfo(store, cached);
  function* node(path: StorePath, firstPad: string, tailPad: string): Generator<string> {
    if (done.has(path.baseName)) {
      yield `${firstPad}${store.print(path)} [...]\n`;
      return;
    }
    done.add(path.baseName);
    yield `${firstPad}${store.print(path)}\n`;
    const info = infoOf(path);
    const children = referencesFirst(store, info.references, cached);
    for (const [i, child] of children.entries()) {
      const last = i + 1 === children.length;
      yield* node(child, tailPad + (last ? TREE_LAST : TREE_CONN), tailPad + (last ? TREE_NULL : TREE_LINE));
    }
  }
  for (const root of roots) yield* node(root, "", "");
}

/** A min-queue of paths by base name, standing in for Nix's std::set work list. */
class PathQueue {
  private readonly heap: StorePath[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(path: StorePath): void {
    const heap = this.heap;
    heap.push(path);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareStorePaths(heap[parent]!, heap[i]!) <= 0) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  pop(): StorePath {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < heap.length && compareStorePaths(heap[l]!, heap[smallest]!) < 0) smallest = l;
        if (r < heap.length && compareStorePaths(heap[r]!, heap[smallest]!) < 0) smallest = r;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}

type InfoOf = (path: StorePath) => PathInfo;

/**
 * Visits the reference graph from `roots` in Nix's work-list order, each path
 * once; the caller prints it, then its references are queued. `infoOf`
 * throws for an invalid path, after the caller printed what it had.
 */
function* walkGraph(roots: Iterable<StorePath>, infoOf: InfoOf): Generator<StorePath> {
  const work = new PathQueue();
  for (const root of roots) work.push(root);
  const done = new Set<string>();
  while (work.size > 0) {
    const path = work.pop();
    if (done.has(path.baseName)) continue;
    done.add(path.baseName);
    yield path;
    for (const ref of infoOf(path).references) if (ref.baseName !== path.baseName) work.push(ref);
  }
}

/** Cached path infos; an invalid path is an error ("path '...' is not valid"). */
function requiredInfo(store: LocalStore, cached = pathInfoCache(store)): InfoOf {
  return (path) => cached(path) ?? store.requireInfo(path);
}

const DOT_COLOURS = ["black", "red", "green", "blue", "magenta", "burlywood"];

const quote = (text: string) => `"${text}"`;

/** `nix-store -q --graph`: the closure of `roots` as a Graphviz digraph, edges from reference to referrer. */
export function* dotGraphLines(store: LocalStore, roots: Iterable<StorePath>): Generator<string> {
  yield "digraph G {\n";
  let colour = 0;
  const infoOf = requiredInfo(store);
  for (const path of walkGraph(roots, infoOf)) {
    yield `${quote(path.baseName)} [label = ${quote(path.name)}, shape = box, style = filled, fillcolor = ${quote("#ff0000")}];\n`;
    for (const ref of infoOf(path).references) {
      if (ref.baseName === path.baseName) continue;
      yield `${quote(ref.baseName)} -> ${quote(path.baseName)} [color = ${quote(DOT_COLOURS[colour++ % DOT_COLOURS.length]!)}];\n`;
    }
  }
  yield "}\n";
}

const GRAPHML_HEADER =
  "<?xml version='1.0' encoding='utf-8'?>\n" +
  "<graphml xmlns='http://graphml.graphdrawing.org/xmlns'\n" +
  "    xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'\n" +
  "    xsi:schemaLocation='http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd'>\n" +
  "<key id='narSize' for='node' attr.name='narSize' attr.type='int'/>" +
  "<key id='name' for='node' attr.name='name' attr.type='string'/>" +
  "<key id='type' for='node' attr.name='type' attr.type='string'/>" +
  "<graph id='G' edgedefault='directed'>\n";

/**
 * Nix's "symbolic name": the store name up to and including its first '-',
 * empty when it has none (so `hello-2.12` gives `hello-` and `hello` gives "").
 */
function symbolicName(name: string): string {
  return name.slice(0, name.indexOf("-") + 1);
}

/** `nix-store -q --graphml`: the closure of `roots` as GraphML, edges from referrer to reference. */
export function* graphMlLines(store: LocalStore, roots: Iterable<StorePath>): Generator<string> {
  yield GRAPHML_HEADER;
  const infoOf = requiredInfo(store);
  for (const path of walkGraph(roots, infoOf)) {
    const info = infoOf(path);
    yield (
      `  <node id="${path.baseName}">\n` +
      `    <data key="narSize">${info.narSize}</data>\n` +
      `    <data key="name">${symbolicName(path.name)}</data>\n` +
      `    <data key="type">${path.isDerivation() ? "derivation" : "output-path"}</data>\n` +
      "  </node>\n"
    );
    for (const ref of info.references) if (ref.baseName !== path.baseName) yield `  <edge source="${path.baseName}" target="${ref.baseName}"/>\n`;
  }
  yield "</graph>\n</graphml>\n";
}
