/**
 * Where the store is: the logical store dir (baked into every path) and the
 * physical directory its objects live in. They differ for a chroot store
 * (`--store /root`: objects under /root/nix/store, paths still /nix/store/...).
 *
 * Precedence for the logical store dir: --store-dir, then NIX_STORE_DIR, then
 * /nix/store. `--store` takes a path or `local?root=PATH[&store=DIR]`.
 */
import { posix } from "node:path";
import { UsageError } from "../errors.ts";
import { canonicalStoreDir } from "../store-path/store-path.ts";

export const DEFAULT_STORE_DIR = "/nix/store";

export interface StoreLocation {
  /** The store dir paths are computed with, e.g. /nix/store. */
  readonly storeDir: string;
  /** Where store objects are on disk (equal to storeDir unless rooted elsewhere). */
  readonly realStoreDir: string;
  /** The chroot root, when the store is rooted elsewhere. */
  readonly root: string | undefined;
}

export interface StoreLocationInput {
  storeDir?: string | undefined;
  store?: string | undefined;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export function resolveStoreLocation(input: StoreLocationInput): StoreLocation {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  let storeDir = input.storeDir ?? env.NIX_STORE_DIR ?? DEFAULT_STORE_DIR;
  let root: string | undefined;
  if (input.store !== undefined && input.store !== "" && input.store !== "auto" && input.store !== "local") {
    const parsed = parseStoreUri(input.store);
    root = parsed.root === undefined ? undefined : posix.resolve(cwd, parsed.root);
    if (parsed.storeDir !== undefined) storeDir = parsed.storeDir;
  }
  storeDir = canonicalStoreDir(storeDir);
  return { storeDir, realStoreDir: root === undefined ? storeDir : posix.join(root, storeDir), root };
}

function parseStoreUri(uri: string): { root?: string; storeDir?: string } {
  if (uri.startsWith("/") || uri.startsWith("./") || uri.startsWith("../")) return { root: uri };
  const match = /^local(?:\?(.*))?$/.exec(uri);
  if (!match) throw new UsageError(`store '${uri}' is not supported here: use a directory or 'local?root=DIR'`);
  const params = new URLSearchParams(match[1] ?? "");
  const out: { root?: string; storeDir?: string } = {};
  for (const [key, value] of params) {
    if (key === "root") out.root = value;
    else if (key === "store") out.storeDir = value;
    else throw new UsageError(`store '${uri}': unknown parameter '${key}'`);
  }
  return out;
}
