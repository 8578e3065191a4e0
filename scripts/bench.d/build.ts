/**
 * The build suite: dist/bunix build against nix-build on the same .drv files.
 *
 * A template store is made once with `nix-instantiate --store` (a trivial
 * derivation, and a chain of 100 small derivations each reading the
 * previous one's output). For every run, each tool gets a fresh copy of the
 * template (untimed), then builds the target there, end to end: process
 * start, sandbox, builder, output registration. Both must produce the same
 * output path. Nix and bunix share one nix.conf: busybox as /bin/sh in the
 * sandbox, no build users, no substituters.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BenchFailure, log } from "./log.ts";
import { type Comparison, type Side, median } from "./measure.ts";
import type { Suite, SuiteContext, SuiteResult } from "./suite.ts";
import { round } from "./units.ts";

const CHAIN_LENGTH = 100;

export const buildSuite: Suite = {
  name: "build",
  description: "bunix build vs nix-build of the same .drv: a trivial build, a chain of 100 with -j2",
  workEntries: ["build-template", "build-runs", "build-conf", "build.nix"],
  run: runBuildSuite,
};

function expression(): string {
  const lines = [
    'let mk = name: script: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" script ]; };',
    '  trivial = mk "trivial" "echo hi > $out";',
    '  step0 = mk "step-0" "echo 0 > $out";',
  ];
  for (let i = 1; i < CHAIN_LENGTH; i++) lines.push(`  step${i} = mk "step-${i}" "cat \${step${i - 1}} > $out; echo ${i} >> $out";`);
  lines.push(`in { inherit trivial; chain = step${CHAIN_LENGTH - 1}; }`);
  return lines.join("\n");
}

function run(argv: string[], env: Record<string, string>): { ms: number; stdout: string } {
  const start = performance.now();
  const result = Bun.spawnSync(argv, { env, stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - start;
  if (result.exitCode !== 0) throw new BenchFailure(`${argv.slice(0, 3).join(" ")} ... failed (${result.exitCode}): ${result.stderr.toString().slice(-2000)}`);
  return { ms, stdout: result.stdout.toString().trim() };
}

function side(ms: number[]): Side {
  return { medianMs: round(median(ms), 2), minMs: round(Math.min(...ms), 2), samplesMs: ms.map((m) => round(m, 2)), medianCpuMs: 0 };
}

async function runBuildSuite(context: SuiteContext): Promise<SuiteResult> {
  const { tools, work, options } = context;
  const conf = join(work, "build-conf");
  mkdirSync(conf, { recursive: true });
  writeFileSync(join(conf, "nix.conf"), "substituters =\nbuild-users-group =\nsandbox-paths = /bin/sh=/bin/busybox\n");
  const env = { ...tools.env, NIX_CONF_DIR: conf };
  const file = join(work, "build.nix");
  writeFileSync(file, expression());
  const template = join(work, "build-template");
  rmSync(template, { recursive: true, force: true });
  log("build: instantiating the derivations (nix-instantiate)");
  const drv = (attr: string) => run(["nix-instantiate", "--store", template, file, "-A", attr], env).stdout;
  const targets = { trivial: drv("trivial"), chain: drv("chain") };
  const runs = options.quick ? 2 : Math.max(3, Math.min(options.runs, 7));
  const rows: Comparison[] = [];
  for (const [key, label, drvPath, extra] of [
    ["buildTrivial", "build: trivial derivation", targets.trivial, [] as string[]],
    ["buildChain", `build: chain of ${CHAIN_LENGTH}, -j2`, targets.chain, ["-j", "2"]],
  ] as const) {
    log(`${label}: ${runs} runs each, each on a fresh copy of the store`);
    const nixMs: number[] = [];
    const bunixMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      for (const who of i % 2 === 0 ? (["nix", "bunix"] as const) : (["bunix", "nix"] as const)) {
        const root = join(work, "build-runs", `${who}-${key}-${i}`);
        rmSync(root, { recursive: true, force: true });
        mkdirSync(join(root, ".."), { recursive: true });
        cpSync(template, root, { recursive: true });
        const argv = who === "nix" ? ["nix-build", "--store", root, "--no-out-link", ...extra, drvPath] : [tools.bunix, "build", "--store", root, "--no-out-link", ...extra, drvPath];
        const result = run(argv, env);
        (who === "nix" ? nixMs : bunixMs).push(result.ms);
        if (i === 0) (who === "nix" ? (targets as Record<string, string>) : (targets as Record<string, string>))[`${key}-${who}`] = result.stdout;
        rmSync(root, { recursive: true, force: true });
      }
    }
    const nixOut = (targets as Record<string, string>)[`${key}-nix`];
    const bunixOut = (targets as Record<string, string>)[`${key}-bunix`];
    if (nixOut !== bunixOut) throw new BenchFailure(`${label}: OUTPUT MISMATCH: nix-build printed '${nixOut}', bunix '${bunixOut}'`);
    const nix = side(nixMs);
    const bunix = side(bunixMs);
    rows.push({ key, label, bytes: 0, nix, bunix, ratio: round(nix.medianMs / bunix.medianMs, 3) });
  }
  return {
    summary: [`build: a trivial derivation and a chain of ${CHAIN_LENGTH} derivations, instantiated once by nix-instantiate; every run builds into a fresh copy of that store; median of ${runs} runs (wall time, process start to exit)`],
    rows,
    sections: [],
    json: { build: { chainLength: CHAIN_LENGTH, runs } },
  };
}
