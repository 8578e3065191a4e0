/**
 * `bunix store query` and `bunix store path-from-hash-part`: the queries of
 * `nix-store -q`, with the same output byte for byte (plus `--json` for the
 * list-style queries). The `nix-store -q` alias shares `queryLines`.
 */
import type { CAC } from "cac";
import { UsageError } from "../../internal/errors.ts";
import { isBase32 } from "../../internal/hash/base32.ts";
import { fromUtf8 } from "../../internal/derivation/types.ts";
import { HASH_PART_LENGTH, type StorePath } from "../../internal/store-path/store-path.ts";
import { StoreError } from "../../internal/store/errors.ts";
import type { LocalStore } from "../../internal/store/local-store.ts";
import { dotGraphLines, graphMlLines, treeLines } from "../../internal/store/query-format.ts";
import {
  type PathSetQuery,
  deriverText,
  environmentBinding,
  narHashText,
  narSize,
  queryPathSet,
  useOutputs,
} from "../../internal/store/query.ts";
import { type JsonNode, jsonObject, printJsonCompact } from "../../internal/text/json.ts";
import { out, outBytes, strings } from "../cli.ts";
import { type StoreFlags, openStore, withStoreOptions } from "../store-options.ts";
import { storePathArgument } from "./arguments.ts";

export type QueryKind = PathSetQuery | "outputs" | "deriver" | "hash" | "size" | "tree" | "graph" | "graphml" | "binding" | "resolve";

const SET_QUERIES: ReadonlySet<QueryKind> = new Set<QueryKind>(["references", "referrers", "requisites", "referrers-closure", "valid-derivers"]);

export interface QueryRequest {
  kind: QueryKind;
  /** --include-outputs (requisites only). */
  includeOutputs: boolean;
  /**
   * Nix's maybeUseOutputs: what a path argument stands for. `useOutput` is
   * true for `--outputs`, else whether `--use-output` was given.
   */
  expand: (path: StorePath, useOutput: boolean) => StorePath[];
  useOutput: boolean;
  /** --binding NAME */
  bindingName?: string;
}

/** The plain expansion: a derivation stands for its outputs when asked to. */
export function plainExpand(store: LocalStore): QueryRequest["expand"] {
  return (path, useOutput) => useOutputs(store, path, useOutput);
}

/**
 * The output of a query, line by line as Nix prints it. Arguments are read
 * one at a time, so a bad one fails after the lines before it, as in Nix.
 * Lines are byte strings (one char per byte; a binding's value is any bytes).
 */
export function* queryLines(store: LocalStore, args: readonly string[], request: QueryRequest): Generator<string> {
  const paths = function* () {
    for (const arg of args) yield storePathArgument(store, arg);
  };
  const expanded = function* (useOutput: boolean) {
    for (const path of paths()) yield* request.expand(path, useOutput);
  };
  const line = (path: StorePath) => `${store.print(path)}\n`;
  switch (request.kind) {
    case "outputs":
      for (const path of paths()) for (const output of request.expand(path, true)) yield line(output);
      return;
    case "references":
    case "referrers":
    case "requisites":
    case "referrers-closure":
    case "valid-derivers":
      yield* queryPathSet(store, request.kind, [...expanded(request.useOutput)], request.includeOutputs).map(line);
      return;
    case "deriver":
      for (const path of paths()) yield `${deriverText(store, path)}\n`;
      return;
    case "hash":
      for (const path of expanded(request.useOutput)) yield `${narHashText(store, path)}\n`;
      return;
    case "size":
      for (const path of expanded(request.useOutput)) yield `${narSize(store, path)}\n`;
      return;
    case "tree":
      for (const text of treeLines(store, paths())) yield fromUtf8(text);
      return;
    case "graph":
      yield* dotGraphLines(store, [...expanded(request.useOutput)]);
      return;
    case "graphml":
      yield* graphMlLines(store, [...expanded(request.useOutput)]);
      return;
    case "binding":
      for (const path of paths()) yield `${environmentBinding(store, path, fromUtf8(request.bindingName ?? ""))}\n`;
      return;
    case "resolve":
      for (const path of paths()) yield line(path);
  }
}

/** Output flushed in large writes; flush before reporting an error so earlier lines come first. */
const FLUSH_BYTES = 64 * 1024;

/** Prints byte-string lines, flushing whatever was produced when one fails. */
export function printLines(lines: Iterable<string>): void {
  let pending: string[] = [];
  let size = 0;
  const flush = () => {
    if (pending.length === 0) return;
    outBytes(Buffer.from(pending.join(""), "latin1"));
    pending = [];
    size = 0;
  };
  try {
    for (const text of lines) {
      pending.push(text);
      size += text.length;
      if (size >= FLUSH_BYTES) flush();
    }
  } finally {
    flush();
  }
}

/** `--json`: a list of paths for the list-style queries, an object by path for per-path ones. */
function queryJson(store: LocalStore, args: readonly string[], request: QueryRequest): JsonNode {
  const paths = args.map((a) => storePathArgument(store, a));
  const print = (p: StorePath) => store.print(p);
  if (SET_QUERIES.has(request.kind)) return queryPathSet(store, request.kind as PathSetQuery, paths, request.includeOutputs).map(print);
  switch (request.kind) {
    case "outputs":
      return paths.flatMap((p) => request.expand(p, true)).map(print);
    case "deriver":
      return jsonObject(
        paths.map((p) => {
          const deriver = store.requireInfo(p).deriver;
          return [print(p), deriver ? print(deriver) : null];
        }),
      );
    case "hash":
      return jsonObject(paths.map((p) => [print(p), narHashText(store, p)]));
    case "size":
      return jsonObject(paths.map((p) => [print(p), narSize(store, p)]));
    default:
      throw new UsageError(`--json cannot be used with --${request.kind}`);
  }
}

interface QueryFlags extends StoreFlags {
  references?: boolean;
  referrers?: boolean;
  requisites?: boolean;
  includeOutputs?: boolean;
  referrersClosure?: boolean;
  deriver?: boolean;
  hash?: boolean;
  size?: boolean;
  outputs?: boolean;
  tree?: boolean;
  graph?: boolean;
  graphml?: boolean;
  validDerivers?: boolean;
  json?: boolean;
}

const KIND_FLAGS: ReadonlyArray<readonly [keyof QueryFlags, QueryKind]> = [
  ["references", "references"],
  ["referrers", "referrers"],
  ["requisites", "requisites"],
  ["referrersClosure", "referrers-closure"],
  ["deriver", "deriver"],
  ["hash", "hash"],
  ["size", "size"],
  ["outputs", "outputs"],
  ["tree", "tree"],
  ["graph", "graph"],
  ["graphml", "graphml"],
  ["validDerivers", "valid-derivers"],
];

function query(args: string[], flags: QueryFlags): void {
  const chosen = KIND_FLAGS.filter(([flag]) => flags[flag] === true).map(([, kind]) => kind);
  if (chosen.length > 1) throw new UsageError(`choose one query: --${chosen[0]} and --${chosen[1]} conflict`);
  const kind = chosen[0] ?? "outputs";
  if (flags.includeOutputs && kind !== "requisites") throw new UsageError("--include-outputs only applies to --requisites");
  const store = openStore(flags, "read");
  try {
    const request: QueryRequest = { kind, includeOutputs: flags.includeOutputs === true, expand: plainExpand(store), useOutput: false };
    const list = strings(args);
    if (flags.json) out(`${printJsonCompact(queryJson(store, list, request))}\n`);
    else printLines(queryLines(store, list, request));
  } finally {
    store.close();
  }
}

function pathFromHashPart(hashPart: string, flags: StoreFlags): void {
  const text = String(hashPart);
  if (text.length !== HASH_PART_LENGTH || !isBase32(text)) {
    throw new UsageError(`'${text}' is not a store path hash part (${HASH_PART_LENGTH} characters of Nix base-32)`);
  }
  const store = openStore(flags, "read");
  try {
    const path = store.queryPathFromHashPart(text);
    if (!path) throw new StoreError(`no valid path in ${store.storeDir} has the hash part '${text}'`);
    out(`${store.print(path)}\n`);
  } finally {
    store.close();
  }
}

export function registerQuery(cli: CAC): void {
  withStoreOptions(
    cli
      .command("query <...paths>", "Query the store like nix-store -q (default: --outputs)")
      .option("--outputs", "Outputs of derivations (as their .drv files state); other paths stand for themselves")
      .option("--references", "Paths the given paths refer to")
      .option("--referrers", "Valid paths that refer to the given paths")
      .option("-R, --requisites", "The closure of the given paths")
      .option("--include-outputs", "With --requisites: also the valid outputs of derivations in the closure")
      .option("--referrers-closure", "Everything that refers to the given paths, directly or not")
      .option("-d, --deriver", "The recorded deriver, or 'unknown-deriver'")
      .option("--valid-derivers", "Valid derivations that list the given paths as outputs")
      .option("--hash", "NAR hash (sha256, base-32)")
      .option("--size", "NAR size in bytes")
      .option("--tree", "The references as a tree")
      .option("--graph", "The closure as a Graphviz dot graph")
      .option("--graphml", "The closure as GraphML")
      .option("--json", "Print JSON: a list of paths, or an object by path for --deriver, --hash, --size"),
  ).action(query);
  withStoreOptions(cli.command("path-from-hash-part <hash>", "Print the valid store path with this hash part")).action(pathFromHashPart);
}
