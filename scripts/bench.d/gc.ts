/**
 * The gc suite: `bunix gc` and `bunix store optimise` against nix-store on
 * identical copies of one store (gc-store.ts generates them in seconds).
 *
 * 1. --print-dead on a store of 20,000 paths (10,000 packages: a .drv and an
 *    output each) of which 10,000 are dead; both tools must print the same.
 * 2. A deleting collection of the same store, each run on fresh copies; both
 *    must leave the same store directory and print the same summary.
 * 3. optimise over 50,000 files (1,000 paths of 50 files drawn from 3,000
 *    contents), each run on fresh copies; both must link the same number of
 *    files, and real `nix-store --verify --check-contents` must find bunix's
 *    copy clean.
 * Copies are made (and flushed with sync) outside the timed region; the two
 * tools alternate which goes first. Goals: print-dead >= 10x, gc >= 2x,
 * optimise >= 1x (ratio = nix time / bunix time).
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { makeCollectStore, makeOptimiseStore } from "./gc-store.ts";
import { BenchFailure, log } from "./log.ts";
import { type CommandRun, type Comparison, type Tools, runTimed, sideOf } from "./measure.ts";
import { fmtMs, table } from "./report.ts";
import type { Suite, SuiteContext, SuiteResult } from "./suite.ts";
import { round } from "./units.ts";

const FULL = { packages: 10000, live: 5000, optimisePaths: 1000, filesPerPath: 50, distinct: 3000 };
const QUICK = { packages: 1000, live: 500, optimisePaths: 100, filesPerPath: 50, distinct: 300 };
const GOALS: Record<string, number> = { gcPrintDead: 10, gcDelete: 2, gcOptimise: 1 };

export const gcSuite: Suite = {
  name: "gc",
  description: "gc --print-dead, deleting gc and optimise vs nix-store on identical store copies",
  workEntries: ["gc"],
  run: runGcSuite,
};

function shell(argv: string[]): void {
  const result = Bun.spawnSync(argv, { stdout: "ignore", stderr: "pipe" });
  if (result.exitCode !== 0) throw new BenchFailure(`'${argv.join(" ")}' failed: ${result.stderr.toString().trim()}`);
}

/** Fresh identical copies of `template` for both tools, flushed to disk. */
function copies(template: string, dir: string): { nix: string; bunix: string } {
  const nix = join(dir, "nix");
  const bunix = join(dir, "bunix");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  shell(["cp", "-a", template, nix]);
  shell(["cp", "-a", template, bunix]);
  shell(["sync"]);
  return { nix, bunix };
}

interface Operation {
  key: string;
  label: string;
  /** Fresh copies for every run (the command changes the store). */
  fresh: boolean;
  nix(root: string): string[];
  bunix(root: string): string[];
  /** Throws when the two tools disagree. */
  check(nix: CommandRun, bunix: CommandRun, roots: { nix: string; bunix: string }): void;
}

function compare(tools: Tools, template: string, scratch: string, op: Operation, runs: number): Comparison {
  log(`${op.label}: ${op.fresh ? "fresh copies, " : ""}${runs} runs each${op.fresh ? "" : " after a warm-up"}`);
  const nix: CommandRun[] = [];
  const bunix: CommandRun[] = [];
  let roots = copies(template, scratch);
  if (!op.fresh) {
    runTimed(tools, op.nix(roots.nix));
    runTimed(tools, op.bunix(roots.bunix));
  }
  for (let i = 0; i < runs; i++) {
    if (op.fresh && i > 0) roots = copies(template, scratch);
    const order = i % 2 === 0 ? (["nix", "bunix"] as const) : (["bunix", "nix"] as const);
    const got: Partial<Record<"nix" | "bunix", CommandRun>> = {};
    for (const who of order) {
      got[who] = runTimed(tools, who === "nix" ? op.nix(roots.nix) : op.bunix(roots.bunix));
      if (op.fresh) shell(["sync"]);
    }
    op.check(got.nix!, got.bunix!, roots);
    nix.push(got.nix!);
    bunix.push(got.bunix!);
  }
  rmSync(scratch, { recursive: true, force: true });
  const n = sideOf(nix);
  const b = sideOf(bunix);
  return { key: op.key, label: op.label, bytes: 0, nix: n, bunix: b, ratio: round(n.medianMs / b.medianMs, 3) };
}

const sortedLines = (text: string) => text.split("\n").filter((l) => l !== "").sort();

function same(what: string, a: unknown, b: unknown): void {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new BenchFailure(`${what}: nix and bunix disagree:\n  nix:   ${JSON.stringify(a).slice(0, 500)}\n  bunix: ${JSON.stringify(b).slice(0, 500)}`);
}

async function runGcSuite({ options, work, tools }: SuiteContext): Promise<SuiteResult> {
  const spec = options.quick ? QUICK : FULL;
  const base = join(work, "gc");
  const collectTemplate = join(base, `collect-${spec.packages}-${spec.live}-${options.seed}`);
  const optimiseTemplate = join(base, `optimise-${spec.optimisePaths}x${spec.filesPerPath}-${spec.distinct}-${options.seed}`);
  mkdirSync(base, { recursive: true });
  let generatedMs = 0;
  if (!existsSync(collectTemplate)) {
    const start = performance.now();
    log(`generating a store of ${2 * spec.packages} paths (${2 * (spec.packages - spec.live)} dead)...`);
    makeCollectStore(collectTemplate, spec.packages, spec.live, options.seed);
    generatedMs += performance.now() - start;
  }
  if (!existsSync(optimiseTemplate)) {
    const start = performance.now();
    log(`generating a store of ${spec.optimisePaths * spec.filesPerPath} files in ${spec.optimisePaths} paths...`);
    makeOptimiseStore(optimiseTemplate, spec.optimisePaths, spec.filesPerPath, spec.distinct, options.seed);
    generatedMs += performance.now() - start;
  }
  const runs = Math.min(options.runs, 3);
  const scratch = join(base, "run");
  const rows: Comparison[] = [];

  rows.push(
    compare(tools, collectTemplate, scratch, {
      key: "gcPrintDead",
      label: `gc --print-dead (${2 * spec.packages} paths)`,
      fresh: false,
      nix: (root) => [tools.nixStore, "--store", root, "--gc", "--print-dead"],
      bunix: (root) => [tools.bunix, "gc", "--print-dead", "--store", root],
      check: (n, b) => same("--print-dead", sortedLines(n.stdout), sortedLines(b.stdout)),
    }, runs),
  );
  const deadCount = 2 * (spec.packages - spec.live);
  rows.push(
    compare(tools, collectTemplate, scratch, {
      key: "gcDelete",
      label: `gc deleting ${deadCount} of ${2 * spec.packages} paths`,
      fresh: true,
      nix: (root) => [tools.nixStore, "--store", root, "--gc"],
      bunix: (root) => [tools.bunix, "gc", "--store", root],
      check: (n, b, roots) => {
        same("gc summary", n.stdout, b.stdout);
        if (!n.stdout.startsWith(`${deadCount} store paths deleted`)) throw new BenchFailure(`gc deleted: ${n.stdout.trim()}`);
        same("store after gc", readdirSync(join(roots.nix, "nix/store")).sort(), readdirSync(join(roots.bunix, "nix/store")).sort());
      },
    }, runs),
  );
  let verified = false;
  const files = spec.optimisePaths * spec.filesPerPath;
  rows.push(
    compare(tools, optimiseTemplate, scratch, {
      key: "gcOptimise",
      label: `optimise ${files} files`,
      fresh: true,
      nix: (root) => [tools.nixStore, "--store", root, "--optimise"],
      bunix: (root) => [tools.bunix, "nix-store", "--store", root, "--optimise"],
      check: (n, b, roots) => {
        const summary = (s: CommandRun) => s.stderr.split("\n").find((l) => l.includes("freed by hard-linking"));
        same("optimise summary", summary(n), summary(b));
        same(".links", readdirSync(join(roots.nix, "nix/store/.links")).sort(), readdirSync(join(roots.bunix, "nix/store/.links")).sort());
        if (!verified) {
          log("optimise: nix-store --verify --check-contents on bunix's copy");
          runTimed(tools, [tools.nixStore, "--store", roots.bunix, "--verify", "--check-contents"]);
          verified = true;
        }
      },
    }, runs),
  );

  const goalRows = rows.map((r) => [r.label, `${r.ratio.toFixed(2)}x`, `>= ${GOALS[r.key]}x`, r.ratio >= GOALS[r.key]! ? "met" : "NOT MET"]);
  return {
    summary: [
      `gc: ${2 * spec.packages} paths (${spec.packages} packages: .drv + output, ~5 references each), ${deadCount} dead; optimise: ${files} files from ${spec.distinct} contents`,
      `gc times: median of ${runs} runs on identical copies (fresh for every deleting run), the tools alternating; ratio = nix / bunix`,
    ],
    rows,
    sections: [table(["gc suite goal", "ratio", "goal", ""], goalRows, new Set([1, 2]))],
    json: {
      gc: {
        paths: 2 * spec.packages,
        dead: deadCount,
        optimiseFiles: files,
        runs,
        generatedMs: round(generatedMs, 0),
        goals: Object.fromEntries(rows.map((r) => [r.key, { ratio: r.ratio, goal: GOALS[r.key], met: r.ratio >= GOALS[r.key]! }])),
        times: Object.fromEntries(rows.map((r) => [r.key, { nix: fmtMs(r.nix.medianMs), bunix: fmtMs(r.bunix.medianMs) }])),
      },
    },
  };
}
