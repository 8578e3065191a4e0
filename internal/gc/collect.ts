/**
 * The garbage collector (store-layout.md 5): under the exclusive gc.lock
 * with the roots server running, load the graph once, find the roots,
 * compute liveness, walk the store directory, and either report the live or
 * dead paths or delete the dead ones (sweep.ts).
 *
 * What it reports matches Nix 2.8 on the same store: the dead set is every
 * entry of the store directory that is not alive plus every valid path that
 * leads to one; entries whose names are not store paths are garbage and are
 * listed by --print-dead and --print-live alike (Nix deletes them even then;
 * bunix only deletes when collecting). Never touched: `.links` (cleaned of
 * unused entries afterwards), a trash directory another process is emptying,
 * temporary files (`add-<pid>-*`, `.tmp-link-<pid>-*`) of live processes, and
 * anything whose hash part a process holds as a temporary root (staging
 * directories, locks, build chroots).
 */
import { rmSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { SystemError } from "../errors.ts";
import type { LocalStore } from "../store/local-store.ts";
import { compareBytewise } from "../store-path/store-path.ts";
import { type StoreAnalysis, analyseStore, hashPartOf } from "./analysis.ts";
import type { KeepSettings } from "./graph.ts";
import { type LinksReport, removeUnusedLinksInSlices } from "./links.ts";
import { deadNodes } from "./liveness.ts";
import { parsesAsStorePath } from "./names.ts";
import { deletionOrder } from "./scc.ts";
import { GcSession } from "./session.ts";
import { Sweeper } from "./sweep.ts";
import { TRASH_NAME, Trash, processAlive } from "./trash.ts";

export type GcAction = "delete" | "dry-run" | "print-live" | "print-dead";

export interface GcOptions {
  readonly action: GcAction;
  /** Bytes; stop once more were freed. Infinity for no limit; 0 does nothing (as in Nix). */
  readonly maxFreed: number;
  readonly keep: KeepSettings;
  /** Informational messages for stderr. */
  log(message: string): void;
  /** A path being deleted ("deleting '…'"). */
  onDeleted?(path: string): void;
  onProgress?(state: GcProgress): void;
}

export interface GcProgress {
  readonly phase: "roots" | "deleting";
  readonly deleted: number;
  readonly total: number;
  readonly bytesFreed: number;
}

export interface GcResult {
  /** print-live / print-dead: sorted full paths; delete / dry-run: the deleted paths in order. */
  readonly paths: string[];
  readonly bytesFreed: number;
  /** Valid dead paths kept because processes claimed them during the collection. */
  readonly keptMeanwhile: number;
  /** After deleting: the .links clean-up. */
  readonly links?: LinksReport;
}

/** Temporary entries of live processes that Nix would delete but bunix leaves alone. */
function ownedByLiveProcess(name: string): boolean {
  const match = /^(?:\.tmp-link-|add-)(\d+)-/.exec(name);
  return match !== null && processAlive(Number(match[1]));
}

interface StoreEntries {
  /** 1 for valid nodes with an entry in the store directory. */
  onDisk: Uint8Array;
  /** Names that parse as store paths but are not valid. */
  invalid: string[];
  /** Names that are not store paths at all. */
  junk: string[];
}

/**
 * Sorts the store directory's entries out. The listing is read on a worker
 * thread (fs.promises) while the graph loads; a valid path is matched without
 * building its full path.
 */
function classifyEntries(names: readonly string[], analysis: StoreAnalysis): StoreEntries {
  const onDisk = new Uint8Array(analysis.graph.count);
  const invalid: string[] = [];
  const junk: string[] = [];
  for (const name of names) {
    const node = analysis.graph.byPath.getBaseName(name);
    if (node >= 0) onDisk[node] = 1;
    else if (name === ".links") continue;
    else if (parsesAsStorePath(name)) invalid.push(name);
    else junk.push(name);
  }
  return { onDisk, invalid, junk };
}

/** Index bits of a packed sort entry (key * 2^20 + index stays below 2^53). */
const INDEX_BITS = 2 ** 20;

/**
 * Sorts full paths bytewise (as Nix's std::set<std::string>). Comparing
 * strings is what costs: each path gets an integer key from its first four
 * characters after the store directory (ASCII as is; from the first other
 * character on, 0xff), key and index are packed into one number and sorted
 * natively, and only runs of equal keys compare the strings.
 */
export function sortPaths(paths: string[], storeDir: string): string[] {
  const at = storeDir.length + 1;
  const keys = new Float64Array(paths.length);
  for (let i = 0; i < paths.length; i++) {
    const p = paths[i]!;
    let key = 0;
    let ascii = true;
    for (let j = at; j < at + 4; j++) {
      const c = j < p.length ? p.charCodeAt(j) : 0;
      // From the first non-ASCII character on, the strings decide.
      if (c > 0x7f) ascii = false;
      key = key * 256 + (ascii ? c : 0xff);
    }
    keys[i] = key;
  }
  if (paths.length >= INDEX_BITS) {
    const order = Array.from({ length: paths.length }, (_, i) => i);
    order.sort((a, b) => keys[a]! - keys[b]! || compareBytewise(paths[a]!, paths[b]!));
    return order.map((i) => paths[i]!);
  }
  const packed = new Float64Array(paths.length);
  for (let i = 0; i < paths.length; i++) packed[i] = keys[i]! * INDEX_BITS + i;
  packed.sort();
  const out = new Array<string>(paths.length);
  for (let i = 0; i < packed.length; ) {
    const key = Math.floor(packed[i]! / INDEX_BITS);
    let j = i + 1;
    while (j < packed.length && Math.floor(packed[j]! / INDEX_BITS) === key) j++;
    const run: string[] = [];
    for (let k = i; k < j; k++) run.push(paths[packed[k]! % INDEX_BITS]!);
    if (run.length > 1) run.sort(compareBytewise);
    for (let k = 0; k < run.length; k++) out[i + k] = run[k]!;
    i = j;
  }
  return out;
}

export async function collectGarbage(store: LocalStore, options: GcOptions): Promise<GcResult> {
  const deleting = options.action === "delete";
  if (deleting) rmSync(join(store.stateDir, "db", "reserved"), { force: true });
  const session = await GcSession.start(store.stateDir, store.storeDir, options.log);
  const trash = new Trash(store.realStoreDir);
  try {
    options.log("finding garbage collector roots...");
    options.onProgress?.({ phase: "roots", deleted: 0, total: 0, bytesFreed: 0 });
    // Never rejects: an error is thrown when the listing is used.
    const listing = readdir(store.realStoreDir).then(
      (names) => ({ names, error: undefined }),
      (error: unknown) => ({ names: [], error }),
    );
    const analysis = analyseStore(store, session, options.keep, options.log);
    const cleanLinks = async (): Promise<LinksReport> => {
      options.log("deleting unused links...");
      return removeUnusedLinksInSlices(store.realStoreDir, () => session.yieldToClients());
    };
    // Nothing may be freed: nothing is looked at, but a collection still cleans .links (as Nix's).
    if (options.maxFreed <= 0) return { paths: [], bytesFreed: 0, keptMeanwhile: 0, ...(deleting ? { links: await cleanLinks() } : {}) };
    options.log(deleting ? "deleting garbage..." : "determining live/dead paths...");
    const listed = await listing;
    if (listed.error !== undefined) throw new SystemError(`opening directory '${store.realStoreDir}'`, listed.error);
    const entries = classifyEntries(listed.names, analysis);
    const dead = deadNodes(analysis.liveness, entries.onDisk);
    const storeDir = store.storeDir;
    const deadInvalid = entries.invalid.filter((name) => !session.isTempRoot(hashPartOf(storeDir, `${storeDir}/${name}`)));
    const junkPaths = entries.junk.map((name) => `${storeDir}/${name}`);

    if (options.action === "print-live" || options.action === "print-dead") {
      const paths: string[] = [...junkPaths];
      const want = options.action === "print-live" ? analysis.liveness.alive : dead;
      for (let n = 0; n < want.length; n++) if (want[n]) paths.push(analysis.graph.paths[n]!);
      const invalidSet = new Set(deadInvalid);
      for (const name of entries.invalid) if (invalidSet.has(name) === (options.action === "print-dead")) paths.push(`${storeDir}/${name}`);
      return { paths: sortPaths(paths, storeDir), bytesFreed: 0, keptMeanwhile: 0 };
    }

    let deadCount = deadInvalid.length + entries.junk.length;
    for (let n = 0; n < dead.length; n++) deadCount += dead[n]!;
    const sweeper = new Sweeper(store, session, trash, {
      maxFreed: options.maxFreed,
      dryRun: !deleting,
      onDeleted: (path) => options.onDeleted?.(path),
      onProgress: (s) => options.onProgress?.({ phase: "deleting", deleted: s.deleted.length, total: deadCount, bytesFreed: s.bytesFreed }),
    });
    for (const name of entries.junk) {
      if (ownedByLiveProcess(name)) continue;
      if (name === TRASH_NAME) {
        if (trash.inUseByOthers()) continue;
        if (deleting) sweeper.bytesFreed += trash.removeLeftovers();
        sweeper.deleted.push(`${storeDir}/${name}`);
        options.onDeleted?.(`${storeDir}/${name}`);
        continue;
      }
      await sweeper.removeEntry(name, undefined);
    }
    for (const name of deadInvalid) await sweeper.removeEntry(name, hashPartOf(storeDir, `${storeDir}/${name}`));
    if (!sweeper.limitReached) await sweeper.deleteComponents(analysis.live, deletionOrder(analysis.live, dead));
    if (deleting && sweeper.limitReached) options.log(`deleted more than ${options.maxFreed} bytes; stopping`);
    const links = deleting ? await cleanLinks() : undefined;
    return { paths: sweeper.deleted, bytesFreed: sweeper.bytesFreed, keptMeanwhile: sweeper.keptMeanwhile, links };
  } finally {
    session.close();
    trash.close();
  }
}
