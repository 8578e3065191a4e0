/**
 * Where the store is (store-layout.md): the logical store dir (baked into
 * every path), the physical directory its objects live in, the state dir
 * (database, locks, roots) and the log dir. For a chroot store (`--store
 * /root`, or `local?root=/root`) objects live under /root/nix/store while
 * paths still read /nix/store/..., and state and logs default to
 * /root/nix/var/...
 *
 * Precedence for the logical store dir: --store-dir, `?store=`, then
 * NIX_STORE_DIR (or NIX_STORE), then /nix/store.
 */
import { posix } from "node:path";
import { UsageError } from "../errors.ts";
import { canonicalStoreDir } from "../store-path/store-path.ts";

export const DEFAULT_STORE_DIR = "/nix/store";
export const DEFAULT_STATE_DIR = "/nix/var/nix";
export const DEFAULT_LOG_DIR = "/nix/var/log/nix";

export interface StoreLocation {
  /** The store dir paths are computed with, e.g. /nix/store. */
  readonly storeDir: string;
  /** Where store objects are on disk (equal to storeDir unless rooted elsewhere). */
  readonly realStoreDir: string;
  readonly stateDir: string;
  readonly logDir: string;
  /** The chroot root, when the store is rooted elsewhere. */
  readonly root: string | undefined;
}

export interface StoreLocationInput {
  storeDir?: string | undefined;
  /** A store URI: a directory, `local[?root=..&store=..&state=..&log=..&real=..]` or `auto`. */
  store?: string | undefined;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

interface UriParameters {
  root?: string;
  store?: string;
  state?: string;
  log?: string;
  real?: string;
}

const PARAMETERS = ["root", "store", "state", "log", "real"] as const;

function parseStoreUri(uri: string): UriParameters {
  if (uri.startsWith("/") || uri.startsWith("./") || uri.startsWith("../")) return { root: uri };
  const match = /^(local|auto)(?:\?(.*))?$/.exec(uri);
  if (!match) {
    throw new UsageError(`store '${uri}' is not supported here: use 'auto', 'local', a directory, or 'local?root=DIR'`);
  }
  const out: UriParameters = {};
  for (const [key, value] of new URLSearchParams(match[2] ?? "")) {
    if (!(PARAMETERS as readonly string[]).includes(key)) throw new UsageError(`store '${uri}': unknown parameter '${key}'`);
    out[key as (typeof PARAMETERS)[number]] = value;
  }
  return out;
}

export function resolveStoreLocation(input: StoreLocationInput): StoreLocation {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const params = input.store === undefined || input.store === "" ? {} : parseStoreUri(input.store);
  const absolute = (p: string) => posix.resolve(cwd, p);
  const root = params.root === undefined ? undefined : absolute(params.root);
  const storeDir = canonicalStoreDir(input.storeDir ?? params.store ?? env.NIX_STORE_DIR ?? env.NIX_STORE ?? DEFAULT_STORE_DIR);
  const realStoreDir = params.real !== undefined ? absolute(params.real) : root === undefined ? storeDir : posix.join(root, storeDir);
  const stateDir = params.state !== undefined ? absolute(params.state) : root !== undefined ? posix.join(root, DEFAULT_STATE_DIR) : (env.NIX_STATE_DIR ?? DEFAULT_STATE_DIR);
  const logDir = params.log !== undefined ? absolute(params.log) : root !== undefined ? posix.join(root, DEFAULT_LOG_DIR) : (env.NIX_LOG_DIR ?? DEFAULT_LOG_DIR);
  return { storeDir, realStoreDir, stateDir, logDir, root };
}

/**
 * The machine-wide state dir (`NIX_STATE_DIR`, default /nix/var/nix): build
 * user locks live here even for stores rooted elsewhere, so that every store
 * on the machine shares one pool of build users (store-layout.md 1).
 */
export function globalStateDir(env: Record<string, string | undefined> = process.env): string {
  return env.NIX_STATE_DIR ?? DEFAULT_STATE_DIR;
}
