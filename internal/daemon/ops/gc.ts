/**
 * Garbage collection, roots, verify and optimise for clients
 * (worker-protocol.md 6.6, 7.3): FindRoots, CollectGarbage, OptimiseStore
 * and VerifyStore, with the messages nix-daemon 2.8 sends (vectors
 * nix-store-gc-print-roots, -print-dead, -delete, nix-store-optimise,
 * nix-store-verify).
 *
 * All of them run in the daemon's one process beside every other client:
 * collections of this daemon take turns (internal/gc/session.ts), and the
 * long loops give the event loop back between slices of work, so other
 * connections are served while a collection, verify or optimise runs.
 */
import { BunixError } from "../../errors.ts";
import { keepSettingsOf, rootContext } from "../../gc/analysis.ts";
import { type GcAction, collectGarbage, sortPaths } from "../../gc/collect.ts";
import { deletePaths } from "../../gc/delete.ts";
import { showBytes } from "../../gc/links.ts";
import { type RootMap, addRoot, findPermanentRoots, findTempRoots } from "../../gc/roots.ts";
import { findRuntimeRoots } from "../../gc/runtime-roots.ts";
import type { LocalStore } from "../../store/local-store.ts";
import { type OptimiseStats, optimiseStore } from "../../store/optimise.ts";
import { yieldToEventLoop } from "../../store/time-slices.ts";
import { verifyStoreInSlices } from "../../store/verify.ts";
import { type StorePath, compareBytewise } from "../../store-path/store-path.ts";
import { ActivityType, ResultType, Verbosity } from "../../wire/worker-protocol.ts";
import type { Connection, OpHandler } from "../connection.ts";
import { reportVerifyProblem } from "./verify-messages.ts";

/** What an untrusted client sees instead of a process id or a /proc file (7.3). */
const CENSORED = "{censored}";

/** CollectGarbage's action codes (6.6). */
const GC_ACTIONS: Readonly<Record<number, GcAction | "delete-specific">> = { 0: "print-live", 1: "print-dead", 2: "delete", 3: "delete-specific" };

/** maxFreed values from here on mean "no limit" (the 2.8 client sends 2^64-1). */
const NO_LIMIT = 2n ** 53n;

class GcRequestError extends BunixError {
  override name = "GcRequestError";
}

function infoLog(c: Connection): (message: string) => void {
  return (message) => c.logger.log(Verbosity.info, message);
}

/** Every root as (link, path) pairs, sorted; temporary and runtime roots censored when asked. */
function allRoots(store: LocalStore, censor: boolean, log: (message: string) => void): Array<[string, string]> {
  const isValid = (path: string) => store.db.get("select 1 as one from ValidPaths where path = ?", path) !== undefined;
  const ctx = rootContext(store, isValid, log);
  const roots = findPermanentRoots(ctx);
  const hidden: RootMap = new Map();
  findRuntimeRoots(ctx, censor ? hidden : roots);
  findTempRoots(ctx, censor ? hidden : roots);
  for (const path of hidden.keys()) addRoot(roots, path, CENSORED);
  const pairs: Array<[string, string]> = [];
  for (const [path, links] of roots) for (const link of links) pairs.push([link, path]);
  return pairs.sort((a, b) => compareBytewise(a[0], b[0]) || compareBytewise(a[1], b[1]));
}

const findRoots: OpHandler = async (c) => {
  const pairs = await c.work(() => allRoots(c.store, !c.trusted, infoLog(c)));
  c.out.writer.u64(pairs.length);
  for (const [link, path] of pairs) c.out.writer.text(link).latin1(path);
};

interface Collected {
  /** Sorted, as Nix's set of paths. */
  paths: string[];
  bytesFreed: number;
}

async function deleteSpecific(c: Connection, paths: readonly StorePath[]): Promise<Collected> {
  const log = infoLog(c);
  const result = await deletePaths(c.store, paths, log);
  const printed = result.deleted.map((p) => c.store.print(p));
  for (const path of printed) log(`deleting '${path}'`);
  log("deleting unused links...");
  log(`note: currently hard linking saves ${showBytes(result.links.savedBytes)}`);
  return { paths: sortPaths(printed, c.store.storeDir), bytesFreed: result.bytesFreed };
}

async function collect(c: Connection, action: GcAction, maxFreed: bigint): Promise<Collected> {
  const log = infoLog(c);
  const result = await collectGarbage(c.store, {
    action,
    maxFreed: maxFreed >= NO_LIMIT ? Infinity : Number(maxFreed),
    keep: keepSettingsOf(c.store),
    log,
    onDeleted: (path) => log(`deleting '${path}'`),
  });
  if (result.keptMeanwhile > 0) log(`kept ${result.keptMeanwhile} dead paths that running processes claimed during the collection`);
  if (result.links) log(`note: currently hard linking saves ${showBytes(result.links.savedBytes)}`);
  // print-live and print-dead come sorted; deletions in the order they happened.
  return { paths: action === "delete" ? sortPaths(result.paths, c.store.storeDir) : result.paths, bytesFreed: result.bytesFreed };
}

const collectGarbageOp: OpHandler = async (c) => {
  const code = await c.reader.u64("the garbage collector action");
  const toDelete = await c.readPaths("the paths to delete");
  const ignoreLiveness = await c.reader.bool("the ignore-liveness flag");
  const maxFreed = await c.reader.u64Big("the number of bytes to free");
  for (let i = 0; i < 3; i++) await c.reader.u64("an obsolete field");
  const result = await c.work(() => {
    if (ignoreLiveness) throw new GcRequestError("you are not allowed to ignore liveness");
    const action = GC_ACTIONS[code];
    if (action === undefined) throw new GcRequestError(`unknown garbage collector action ${code} (expected 0 to 3: return live, return dead, delete dead, delete specific)`);
    return action === "delete-specific" ? deleteSpecific(c, toDelete) : collect(c, action, maxFreed);
  });
  c.out.writer.latin1List(result.paths).u64(result.bytesFreed).u64(0);
};

/** Between slices of a long job: other clients get a turn, and this client's messages go out as it reads them. */
function pauseFor(c: Connection): () => Promise<void> {
  return async () => {
    await yieldToEventLoop();
    await c.out.sendIfFull();
  };
}

const optimiseStoreOp: OpHandler = async (c) => {
  await c.work(async () => {
    const logger = c.logger;
    const activity = logger.startActivity(Verbosity.error, ActivityType.optimiseStore, "");
    let pathActivity = 0n;
    let stats: OptimiseStats;
    try {
      stats = await optimiseStore(c.store, {
        log: (message) => (message.startsWith("warning: ") ? logger.warn(message.slice("warning: ".length)) : logger.log(Verbosity.info, message)),
        onProgress: (s, total) => logger.result(activity, ResultType.progress, [s.pathsDone, total, 0, 0]),
        onPathStart: (path) => {
          pathActivity = logger.startActivity(Verbosity.talkative, ActivityType.unknown, `optimising path '${path}'`);
        },
        onPathEnd: () => logger.stopActivity(pathActivity),
        onLinked: (path, linkPath, size, blocks) => {
          logger.log(Verbosity.talkative, `linking '${path}' to '${linkPath}'`);
          logger.result(pathActivity, ResultType.fileLinked, [size, blocks]);
        },
        pause: pauseFor(c),
      });
    } finally {
      logger.stopActivity(activity);
    }
    logger.log(Verbosity.info, `${showBytes(stats.bytesFreed)} freed by hard-linking ${stats.filesLinked} files`);
  });
  c.out.writer.u64(1);
};

const verifyStoreOp: OpHandler = async (c) => {
  const checkContents = await c.reader.bool("the check-contents flag");
  const repair = await c.reader.bool("the repair flag");
  const errors = await c.work(async () => {
    if (repair) c.requireTrusted("you are not privileged to repair paths");
    let errors = false;
    // As nix-store --verify: metadata is only looked at (and fixed) with repair.
    await verifyStoreInSlices(
      c.store,
      {
        checkContents,
        repair,
        checkMetadata: repair,
        onEvent: (event) => {
          if (reportVerifyProblem(c.logger, event, repair)) errors = true;
        },
      },
      pauseFor(c),
    );
    return errors;
  });
  c.out.writer.bool(errors);
};

export const gcOps = {
  FindRoots: findRoots,
  CollectGarbage: collectGarbageOp,
  OptimiseStore: optimiseStoreOp,
  VerifyStore: verifyStoreOp,
} satisfies Partial<Record<string, OpHandler>>;
