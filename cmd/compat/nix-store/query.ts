/**
 * nix-store --query (-q), as Nix 2.8's opQuery: one query type (default
 * --outputs; two different ones conflict), --use-output/-u, --include-outputs,
 * --binding/-b NAME (the name is the first argument), --force-realise/-f.
 *
 * Building is not implemented, so --force-realise only passes when there is
 * nothing to build (every path, or every output of a derivation, is already
 * valid) and is refused otherwise. --roots needs the garbage collector's root
 * scan and is refused. --valid-derivers is a bunix addition (Nix 2.8 does not
 * have it).
 */
import { UsageError } from "../../../internal/errors.ts";
import { type StorePath, compareStorePaths } from "../../../internal/store-path/store-path.ts";
import { StoreError } from "../../../internal/store/errors.ts";
import type { LocalStore } from "../../../internal/store/local-store.ts";
import { isRealised } from "../../../internal/store/query.ts";
import { warn } from "../../cli.ts";
import { openStore } from "../../store-options.ts";
import { type QueryKind, type QueryRequest, plainExpand, printLines, queryLines } from "../../store/query.ts";
import { type NixStoreInvocation, storeFlagsOf } from "./operations.ts";

type QueryType = QueryKind | "roots";

const QUERY_FLAGS: Readonly<Record<string, QueryType>> = {
  "--outputs": "outputs",
  "--requisites": "requisites",
  "-R": "requisites",
  "--references": "references",
  "--referrers": "referrers",
  "--referers": "referrers",
  "--referrers-closure": "referrers-closure",
  "--referers-closure": "referrers-closure",
  "--deriver": "deriver",
  "-d": "deriver",
  "--binding": "binding",
  "-b": "binding",
  "--hash": "hash",
  "--size": "size",
  "--tree": "tree",
  "--graph": "graph",
  "--graphml": "graphml",
  "--resolve": "resolve",
  "--roots": "roots",
  "--valid-derivers": "valid-derivers",
};

interface ParsedQuery {
  type: QueryType;
  useOutput: boolean;
  forceRealise: boolean;
  includeOutputs: boolean;
  bindingName: string | undefined;
  operands: string[];
}

function parseQueryFlags(invocation: NixStoreInvocation): ParsedQuery {
  const parsed: ParsedQuery = { type: "outputs", useOutput: false, forceRealise: false, includeOutputs: false, bindingName: undefined, operands: [...invocation.operands] };
  let chosen: QueryType | undefined;
  for (const flag of invocation.flags) {
    const type = QUERY_FLAGS[flag];
    if (type !== undefined) {
      if (chosen !== undefined && chosen !== type) throw new UsageError(`query type '${flag}' conflicts with earlier flag`);
      chosen = type;
      // As in Nix, the binding name is the first argument, wherever it stands.
      if (type === "binding") {
        const name = parsed.operands.shift();
        if (name === undefined) throw new UsageError("expected binding name");
        parsed.bindingName = name;
      }
    } else if (flag === "--use-output" || flag === "-u") parsed.useOutput = true;
    else if (flag === "--force-realise" || flag === "--force-realize" || flag === "-f") parsed.forceRealise = true;
    else if (flag === "--include-outputs") parsed.includeOutputs = true;
    else throw new UsageError(`unknown flag '${flag}'`);
  }
  parsed.type = chosen ?? "outputs";
  return parsed;
}

/** Nix's maybeUseOutputs with --force-realise, for a store where nothing needs building. */
function realisingExpand(store: LocalStore): QueryRequest["expand"] {
  const plain = plainExpand(store);
  let warned = false;
  return (path: StorePath, useOutput: boolean) => {
    if (!isRealised(store, path)) {
      throw new StoreError(
        `cannot realise '${store.print(path)}': bunix does not build or substitute yet (nix-store -q --force-realise only works when everything is already valid)`,
      );
    }
    if (!warned) warn("you did not specify '--add-root'; the result might be removed by the garbage collector");
    warned = true;
    // With -f, Nix takes a derivation's outputs from the database.
    if (useOutput && path.isDerivation()) return [...store.queryDerivationOutputs(path).values()].sort(compareStorePaths);
    return plain(path, useOutput);
  };
}

export function query(invocation: NixStoreInvocation): void {
  const parsed = parseQueryFlags(invocation);
  if (parsed.type === "roots") throw new UsageError("bunix does not implement 'nix-store --query --roots' yet (it needs the garbage collector's root scan)");
  const store = openStore(storeFlagsOf(invocation), "read");
  try {
    const request: QueryRequest = {
      kind: parsed.type,
      includeOutputs: parsed.includeOutputs,
      expand: parsed.forceRealise ? realisingExpand(store) : plainExpand(store),
      useOutput: parsed.useOutput,
      bindingName: parsed.bindingName,
    };
    printLines(queryLines(store, parsed.operands, request));
  } finally {
    store.close();
  }
}
