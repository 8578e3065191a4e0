/**
 * `bunix gc`: the garbage collector (nix-store --gc). Shared with the
 * nix-store alias: output as Nix 2.8 prints it (paths and the summary on
 * stdout, "deleting '…'" and notes on stderr), with a progress line on a
 * terminal.
 */
import type { CAC } from "cac";
import { UsageError } from "../internal/errors.ts";
import { keepSettingsOf, rootContext } from "../internal/gc/analysis.ts";
import { type GcAction, collectGarbage } from "../internal/gc/collect.ts";
import { showBytes } from "../internal/gc/links.ts";
import { findPermanentRoots, findTempRoots, formatRoots } from "../internal/gc/roots.ts";
import { findRuntimeRoots } from "../internal/gc/runtime-roots.ts";
import type { LocalStore } from "../internal/store/local-store.ts";
import { commandGroup, out, runCac, single } from "./cli.ts";
import { Progress } from "./progress.ts";
import { type StoreFlags, openStore, withStoreOptions } from "./store-options.ts";

const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A byte count with an optional K/M/G/T suffix (powers of 1024), as Nix's --max-freed. */
export function parseByteCount(text: string, flag: string): number {
  const match = /^(\d+)([KMGT])?$/.exec(text);
  if (!match) throw new UsageError(`${flag} requires an integer argument (optionally with a K, M, G or T suffix), not '${text}'`);
  return Number(match[1]) * (match[2] ? UNITS[match[2]]! : 1);
}

/** Every root with its links, "<link> -> <path>" sorted (nix-store --gc --print-roots). */
export function printRoots(store: LocalStore): void {
  const isValid = (path: string) => store.db.get("select 1 as one from ValidPaths where path = ?", path) !== undefined;
  const ctx = rootContext(store, isValid, (message) => process.stderr.write(`${message}\n`));
  const roots = findPermanentRoots(ctx);
  findRuntimeRoots(ctx, roots);
  findTempRoots(ctx, roots);
  out(formatRoots(roots));
}

/** Runs a collection and prints like nix-store --gc. */
export async function runGc(store: LocalStore, action: GcAction, maxFreed: number): Promise<void> {
  const progress = new Progress();
  const stderr = (line: string) => {
    progress.done();
    process.stderr.write(`${line}\n`);
  };
  try {
    const result = await collectGarbage(store, {
      action,
      maxFreed,
      keep: keepSettingsOf(store),
      log: stderr,
      onDeleted: (path) => stderr(action === "dry-run" ? `would delete '${path}'` : `deleting '${path}'`),
      onProgress: (state) => {
        if (state.phase === "roots") progress.update("finding garbage collector roots...", true);
        else progress.update(`${action === "dry-run" ? "dead" : "deleting garbage"}: ${state.deleted}/${state.total} paths, ${showBytes(state.bytesFreed)}`);
      },
    });
    progress.done();
    if (action === "print-live" || action === "print-dead") {
      out(result.paths.map((p) => `${p}\n`).join(""));
      return;
    }
    if (result.keptMeanwhile > 0) stderr(`kept ${result.keptMeanwhile} dead paths that running processes claimed during the collection`);
    if (action === "dry-run") {
      out(`${result.paths.length} store paths would be deleted, ${showBytes(result.bytesFreed)} would be freed\n`);
      return;
    }
    if (result.links) stderr(`note: currently hard linking saves ${showBytes(result.links.savedBytes)}`);
    out(`${result.paths.length} store paths deleted, ${showBytes(result.bytesFreed)} freed\n`);
  } finally {
    progress.done();
  }
}

interface GcFlags extends StoreFlags {
  printRoots?: boolean;
  printLive?: boolean;
  printDead?: boolean;
  dryRun?: boolean;
  maxFreed?: unknown;
}

async function gcCommand(flags: GcFlags): Promise<void> {
  const modes = [flags.printRoots, flags.printLive, flags.printDead, flags.dryRun].filter(Boolean).length;
  if (modes > 1) throw new UsageError("--print-roots, --print-live, --print-dead and --dry-run exclude each other");
  const maxText = single(flags.maxFreed, "--max-freed");
  const maxFreed = maxText === undefined ? Infinity : parseByteCount(maxText, "--max-freed");
  const store = openStore(flags, "write");
  try {
    if (flags.printRoots) return printRoots(store);
    const action: GcAction = flags.printLive ? "print-live" : flags.printDead ? "print-dead" : flags.dryRun ? "dry-run" : "delete";
    await runGc(store, action, maxFreed);
  } finally {
    store.close();
  }
}

export function gcCli(): CAC {
  const cli = commandGroup("bunix gc");
  withStoreOptions(
    cli
      .command("", "Delete unreachable store paths (nix-store --gc)")
      .option("--print-roots", "Print the roots: '<link> -> <store path>'")
      .option("--print-live", "Print the paths that are alive; delete nothing")
      .option("--print-dead", "Print the paths that would be deleted; delete nothing")
      .option("--dry-run", "Report what would be deleted and the bytes it would free; delete nothing")
      .option("--max-freed <bytes>", "Stop after freeing more than this many bytes (K, M, G, T suffixes)"),
  ).action(gcCommand);
  return cli;
}

export const run = (argv: readonly string[]) => runCac(gcCli(), argv);
