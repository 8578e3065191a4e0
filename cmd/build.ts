/**
 * `bunix build DRV...`: realise derivations (a .drv store path, or a .drv or
 * JSON file, which is added first; `DRV^out,dev` or `DRV^*` picks outputs),
 * print their output paths, and make `result` links registered as GC roots.
 */
import type { CAC } from "cac";
import { statSync } from "node:fs";
import { posix } from "node:path";
import { addDerivation } from "../internal/build/add-derivation.ts";
import { BuilderFailedError, failureExitStatus } from "../internal/build/errors.ts";
import { addIndirectRoot, outLinkName } from "../internal/build/out-links.ts";
import { type BuildTarget, realise } from "../internal/build/scheduler.ts";
import { UsageError } from "../internal/errors.ts";
import type { StorePath } from "../internal/store-path/store-path.ts";
import { loadDerivationFile } from "../internal/store/derivation-files.ts";
import type { LocalStore } from "../internal/store/local-store.ts";
import { filterTerminalEscapes } from "../internal/text/ansi.ts";
import { buildDisplay } from "./build-display.ts";
import { addCommandLineSetting, commandGroup, out, runCac, single, strings } from "./cli.ts";
import { type StoreFlags, openStore, withStoreOptions } from "./store-options.ts";

export interface BuildFlags extends StoreFlags {
  outLink?: unknown;
  maxJobs?: unknown;
  cores?: unknown;
  keepGoing?: boolean;
  keepFailed?: boolean;
  check?: boolean;
  repair?: boolean;
  timeout?: unknown;
  maxSilentTime?: unknown;
  printBuildLogs?: boolean;
}

/** Resolves `DRV[^outputs]` to a target, adding .drv/JSON files that are not in the store. */
export async function parseTarget(store: LocalStore, arg: string): Promise<BuildTarget> {
  const caret = arg.lastIndexOf("^");
  const path = caret < 0 ? arg : arg.slice(0, caret);
  const spec = caret < 0 ? undefined : arg.slice(caret + 1);
  const outputs = spec === undefined || spec === "*" ? undefined : spec.split(",").filter((o) => o !== "");
  if (outputs && outputs.length === 0) throw new UsageError(`'${arg}': no outputs after '^'`);
  let drvPath: StorePath;
  const absolute = posix.resolve(path);
  if (absolute.startsWith(`${store.storeDir}/`) && store.isValid(store.parse(absolute))) {
    drvPath = store.parse(absolute);
  } else {
    try {
      statSync(absolute);
    } catch {
      throw new UsageError(`'${path}' is neither a valid derivation in the store nor a file`);
    }
    drvPath = await addDerivation(store, loadDerivationFile(store.location, absolute));
  }
  if (!drvPath.isDerivation()) throw new UsageError(`'${path}' is not a derivation (.drv)`);
  return outputs ? { drvPath, outputs } : { drvPath };
}

/** Builds the targets, reporting failures on stderr; shared with the nix-store -r alias. */
export async function buildTargets(
  store: LocalStore,
  targets: readonly BuildTarget[],
  flags: Pick<BuildFlags, "check" | "repair">,
  display: { printLogs: boolean; prefix: boolean },
): Promise<{ status: number; outputs: Array<Map<string, StorePath>> }> {
  const view = buildDisplay({ ...display, print: (p) => store.print(p) });
  const mode = flags.check ? "check" : flags.repair ? "repair" : "normal";
  let result;
  try {
    result = await realise(store, targets, {
      maxJobs: store.settings.string("max-jobs") === "auto" ? navigator.hardwareConcurrency : store.settings.int("max-jobs"),
      keepGoing: store.settings.bool("keep-going"),
      keepFailed: store.settings.bool("keep-failed"),
      mode,
      onEvent: view.onEvent,
    });
  } finally {
    view.finish();
  }
  for (const { drvPath, error } of result.failures) {
    let message = error instanceof Error ? error.message : String(error);
    // As Nix: the log tail unless the log was shown already; continuation lines indented.
    if (error instanceof BuilderFailedError && error.logTail.length > 0 && !display.printLogs) {
      const lines = error.logTail.map((l) => `> ${filterTerminalEscapes(l)}\n`).join("");
      message += `;\nlast ${error.logTail.length} log lines:\n${lines}For full logs, run 'bunix store log ${store.print(drvPath)}'.`;
    }
    process.stderr.write(`error: ${message.replaceAll("\n", "\n       ")}\n`);
  }
  return { status: result.failures.length > 0 ? failureExitStatus(result.failures.map((f) => f.error)) : 0, outputs: result.outputs };
}

async function build(args: string[], flags: BuildFlags): Promise<number> {
  const list = strings(args);
  if (list.length === 0) throw new UsageError("no derivations given");
  const setting = (name: string, value: unknown, flag: string) => {
    const text = single(value, flag);
    if (text !== undefined) addCommandLineSetting(name, text);
  };
  setting("max-jobs", flags.maxJobs, "--max-jobs");
  setting("cores", flags.cores, "--cores");
  setting("timeout", flags.timeout, "--timeout");
  setting("max-silent-time", flags.maxSilentTime, "--max-silent-time");
  if (flags.keepGoing) addCommandLineSetting("keep-going", "true");
  if (flags.keepFailed) addCommandLineSetting("keep-failed", "true");
  if (flags.check && flags.repair) throw new UsageError("--check and --repair cannot be used together");
  // cac gives true when neither --out-link NAME nor --no-out-link is given.
  if (flags.outLink === "") throw new UsageError("option '--out-link' needs a value");
  const outLink = flags.outLink === false ? undefined : flags.outLink === true ? "result" : (single(flags.outLink, "--out-link") ?? "result");
  const store = openStore(flags, "write");
  try {
    const targets = [];
    for (const arg of list) targets.push(await parseTarget(store, arg));
    const { status, outputs } = await buildTargets(store, targets, flags, { printLogs: flags.printBuildLogs === true, prefix: true });
    if (status !== 0) return status;
    outputs.forEach((paths, target) => {
      for (const [name, path] of paths) {
        out(`${store.print(path)}\n`);
        if (outLink !== undefined && !flags.check) addIndirectRoot(store, path, outLinkName(outLink, target, name));
      }
    });
    return 0;
  } finally {
    store.close();
  }
}

export function buildCli(): CAC {
  const cli = commandGroup("bunix build");
  withStoreOptions(
    cli
      .command("[...derivations]", "Build derivations (DRV, DRV^out,dev or DRV^*) and print their output paths")
      // [name], not <name>: cac rejects a required value that --no-out-link defaults to true.
      .option("-o, --out-link [name]", "Name of the result symlinks (default: result)")
      .option("--no-out-link", "Do not create result symlinks")
      .option("-j, --max-jobs <n>", "Builds to run at once")
      .option("--cores <n>", "NIX_BUILD_CORES for each builder")
      .option("-k, --keep-going", "Continue with other builds after a failure")
      .option("-K, --keep-failed", "Keep the build directory of failed builds")
      .option("--check", "Rebuild and fail if the result differs from the existing outputs")
      .option("--repair", "Rebuild outputs even if valid, replacing corrupt ones")
      .option("--timeout <seconds>", "Kill builds running longer than this")
      .option("--max-silent-time <seconds>", "Kill builds silent for this long")
      .option("-L, --print-build-logs", "Print build output as it comes"),
  ).action(build);
  return cli;
}

/** `-j4` is `-j 4`, as Nix splits it. */
function splitAttachedJobs(argv: readonly string[]): string[] {
  return argv.flatMap((arg) => (/^-j\d+$/.test(arg) ? ["-j", arg.slice(2)] : [arg]));
}

export const run = (argv: readonly string[]) => runCac(buildCli(), splitAttachedJobs(argv));
