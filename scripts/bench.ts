/**
 * The benchmark behind scripts/bench: dist/bunix against real Nix 2.8 on the
 * same data, in one run, suite by suite (see bench.d/suite.ts):
 *
 * - nar: NAR dump and hash of a generated tree and a 1 GiB file, peak memory,
 *   in-process hash back ends and dumpPath/hashPath (bench.d/nar.ts).
 * - store: adding a 300 MB tree and 5,000 small paths, 10,000 path-info
 *   queries, verify --check-contents (bench.d/store.ts).
 * - build: a trivial build and a chain of 100 against nix-build
 *   (bench.d/build.ts).
 * - gc: --print-dead, a deleting gc and optimise on identical store copies
 *   (bench.d/gc.ts).
 * - daemon: bunix daemon vs nix-daemon, QueryPathInfo and AddToStore round
 *   trips through one client (bench.d/daemon.ts).
 *
 * A new suite is a file bench.d/<suite>.ts exporting a Suite, added to SUITES
 * below; --only picks suites by name. Every suite runs in the same work dir
 * and isolated environment (bench.d/context.ts), and its rows join the common
 * nix/bunix table and the JSON line (bench.d/report.ts).
 *
 * Output: progress on stderr, tables and a JSON line on stdout; with --json
 * only the JSON line. MB is 10^6 bytes, MiB 2^20.
 */
import { resolve } from "node:path";
import { describeSetup, findTools, isolatedTools, openWorkDir } from "./bench.d/context.ts";
import { BenchFailure, log, setQuiet } from "./bench.d/log.ts";
import { buildSuite } from "./bench.d/build.ts";
import { daemonSuite } from "./bench.d/daemon.ts";
import { gcSuite } from "./bench.d/gc.ts";
import { storeSuite } from "./bench.d/store.ts";
import { narSuite } from "./bench.d/nar.ts";
import { type Options, UsageFailure, parseOptions, usage } from "./bench.d/options.ts";
import { jsonReport, textReport } from "./bench.d/report.ts";
import type { Suite, SuiteResult } from "./bench.d/suite.ts";
import { round } from "./bench.d/units.ts";

/** Every suite, in the order they run and report (whatever the order given to --only). */
const SUITES: readonly Suite[] = [narSuite, storeSuite, buildSuite, gcSuite, daemonSuite];

async function main(): Promise<number> {
  let options: Options | "help";
  try {
    options = parseOptions(process.argv.slice(2), SUITES.map((suite) => suite.name));
  } catch (error) {
    if (!(error instanceof UsageFailure)) throw error;
    process.stderr.write(`bench: ${error.message}\n${usage(SUITES)}\n`);
    return 2;
  }
  if (options === "help") {
    console.log(usage(SUITES));
    return 0;
  }
  const only = options.only;
  const suites = SUITES.filter((suite) => only === undefined || only.includes(suite.name));
  setQuiet(options.json);
  const began = performance.now();
  const toolPaths = findTools(resolve(import.meta.dir, ".."));

  const work = openWorkDir(options.keep, suites.flatMap((suite) => suite.workEntries));
  const onSignal = () => {
    work.cleanup();
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    log(`work dir ${work.path}`);
    const tools = isolatedTools(toolPaths, work.path);
    const setup = describeSetup(tools);
    const results: SuiteResult[] = [];
    for (const suite of suites) results.push(await suite.run({ options, work: work.path, tools }));
    const totalSeconds = round((performance.now() - began) / 1000, 1);
    const report = jsonReport(options, setup, results, totalSeconds);
    if (!options.json) console.log(textReport(setup, results, totalSeconds));
    console.log(JSON.stringify(report));
    return 0;
  } finally {
    work.cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const text = error instanceof BenchFailure ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`bench: FAILED: ${text}\n`);
    process.exit(1);
  },
);
