/**
 * Scheduling: -j limits how many builders run at once (seen from the
 * builders' own start/end records, never from timings); --keep-going builds
 * everything it can and reports every failure; without it the first failure
 * stops new builds; result links are named as nix-build names them and
 * registered as indirect roots that real Nix finds; two bunix processes, or
 * bunix and real Nix, building the same chain at once both succeed and each
 * derivation is built once.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { BUNIX, bunixBinary, requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { BUILD_TESTS, buildEnv, bunix, expectVerifies, instantiate, nixStoreOk, outputsOf } from "./live.ts";

let dir: string;
let counter: string;

const counterOption = () => ["--option", "extra-sandbox-paths", `/counter=${counter}`];

/** A fresh store and counter directory with `attrs` instantiated (nonce: fresh derivations). */
function setup(label: string, attrs: string[], nonce = label): { root: string; drvs: Map<string, string> } {
  const root = join(dir, label);
  counter = join(dir, `${label}-counter`);
  mkdirSync(counter);
  chmodSync(counter, 0o777);
  return { root, drvs: instantiate(root, "cases.nix", attrs, ["--argstr", "nonce", nonce]) };
}

/** The most builders running at once, from their "start"/"end" records. */
function maxConcurrent(): number {
  let running = 0;
  let most = 0;
  for (const event of readFileSync(join(counter, "events"), "utf8").split("\n")) {
    if (event === "start") most = Math.max(most, ++running);
    if (event === "end") running--;
  }
  return most;
}

/** How many times each traced builder ran (one file per run). */
function tracedRuns(): Record<string, number> {
  const runs: Record<string, number> = {};
  for (const name of readdirSync(counter)) {
    const key = name.split(".")[0]!;
    runs[key] = (runs[key] ?? 0) + 1;
  }
  return runs;
}

beforeAll(() => {
  requireNix();
  bunixBinary();
  dir = scratchDir("build-scheduling");
});

describe("max-jobs", () => {
  test("-j2 runs two independent builds at once, never three", () => {
    const { root, drvs } = setup("j2", ["overlap.o1", "overlap.o2", "overlap.o3", "overlap.o4"]);
    const result = bunix(["build", "--store", root, "--no-out-link", "-j2", ...counterOption(), ...drvs.values()]);
    expect(result.stderr).not.toContain("error");
    expect(result.code).toBe(0);
    expect(readFileSync(join(counter, "events"), "utf8").match(/start/g)).toHaveLength(4);
    expect(maxConcurrent()).toBe(2);
  });

  test("-j1 runs one at a time", () => {
    const { root, drvs } = setup("j1", ["overlap.o1", "overlap.o2"]);
    expect(bunix(["build", "--store", root, "--no-out-link", "-j1", ...counterOption(), ...drvs.values()]).code).toBe(0);
    expect(maxConcurrent()).toBe(1);
  });
});

describe("failures", () => {
  const attrs = ["failing", "independent.i1", "independent.i2", "failing2", "independent.i3", "independent.i4"];

  test("--keep-going builds the others, reports every failure, exits 100", () => {
    const { root, drvs } = setup("keep-going", attrs);
    const result = bunix(["build", "--store", root, "--no-out-link", "-k", ...drvs.values()]);
    expect(result.code).toBe(100);
    expect(result.stderr).toContain(`error: builder for '${drvs.get("failing")}' failed with exit code 1`);
    expect(result.stderr).toContain(`error: builder for '${drvs.get("failing2")}' failed with exit code 2`);
    for (const attr of attrs.filter((a) => a.startsWith("independent"))) {
      for (const path of outputsOf(root, [drvs.get(attr)!])) expect(nixStoreOk(root, ["-q", "--hash", path])).toStartWith("sha256:");
    }
    expectVerifies(root);
  });

  test("without --keep-going the first failure stops new builds", () => {
    const { root, drvs } = setup("stop", attrs);
    const result = bunix(["build", "--store", root, "--no-out-link", "-j1", ...drvs.values()]);
    expect(result.code).toBe(100);
    expect(result.stderr).toContain(`builder for '${drvs.get("failing")}' failed`);
    expect(result.stderr).not.toContain(`building '${drvs.get("independent.i1")}'`);
    const valid = runOk(["nix-store", "--store", root, "--check-validity", "--print-invalid", ...outputsOf(root, [...drvs.values()])], { env: buildEnv() }).toString();
    expect(valid.trim().split("\n")).toHaveLength(attrs.length);
  });
});

describe("result links", () => {
  test("named as nix-build names them, each an indirect root real Nix finds", () => {
    const { root, drvs } = setup("links", ["tracedMulti", "plain", "steady"]);
    const work = join(dir, "links-cwd");
    mkdirSync(work);
    const multi = drvs.get("tracedMulti")!;
    bunix(["build", "--store", root, ...counterOption(), `${multi}^dev`, drvs.get("plain")!, drvs.get("steady")!], { cwd: work });
    const nixWork = join(dir, "links-nix-cwd");
    mkdirSync(nixWork);
    runOk(["nix-build", "--store", join(dir, "links-nix"), ...counterOption(), join(BUILD_TESTS, "cases.nix"), "--argstr", "nonce", "links", "-A", "tracedMulti.dev", "-A", "plain", "-A", "steady"], { env: buildEnv(), cwd: nixWork });
    const links = (d: string) => Object.fromEntries(readdirSync(d).sort().map((n) => [n, readlinkSync(join(d, n))]));
    expect(links(work)).toEqual(links(nixWork));
    expect(Object.keys(links(work))).toEqual(["result-2", "result-3", "result-dev"]);
    // DRV^* links every output: result, result-dev.
    const all = join(dir, "links-all");
    mkdirSync(all);
    expect(bunix(["build", "--store", root, ...counterOption(), `${multi}^*`], { cwd: all }).code).toBe(0);
    expect(Object.keys(links(all))).toEqual(["result", "result-dev"]);
    // Real Nix reads the roots: every link, pointing at its output.
    const roots = nixStoreOk(root, ["--gc", "--print-roots"]);
    for (const d of [work, all]) for (const [name, target] of Object.entries(links(d))) expect(roots).toContain(`${join(d, name)} -> ${target}\n`);
    const auto = join(root, "nix/var/nix/gcroots/auto");
    expect(readdirSync(auto).map((n) => readlinkSync(join(auto, n))).sort()).toEqual([...Object.keys(links(work)).map((n) => join(work, n)), ...Object.keys(links(all)).map((n) => join(all, n))].sort());
    expect(lstatSync(join(work, "result-dev")).isSymbolicLink()).toBe(true);
  });
});

describe("concurrent builds of the same derivations", () => {
  test("two bunix processes: both succeed, each derivation built once", async () => {
    const { root, drvs } = setup("two-bunix", ["tracedMulti"]);
    const argv = [BUNIX, "build", "--store", root, "--no-out-link", ...counterOption(), drvs.get("tracedMulti")!];
    const procs = [0, 1].map(() => Bun.spawn(argv, { env: buildEnv(), stdout: "pipe", stderr: "pipe" }));
    const results = await Promise.all(procs.map(async (p) => ({ code: await p.exited, stdout: await new Response(p.stdout).text(), stderr: await new Response(p.stderr).text() })));
    for (const r of results) expect(r).toMatchObject({ code: 0 });
    expect(results[0]!.stdout).toBe(results[1]!.stdout);
    expect(tracedRuns()).toEqual({ traced1: 1, traced2: 1, traced3: 1 });
    expectVerifies(root);
  });

  test("bunix and real Nix at once: both succeed, each derivation built once, the store verifies", async () => {
    const { root, drvs } = setup("bunix-and-nix", ["tracedMulti"]);
    const drv = drvs.get("tracedMulti")!;
    const procs = [
      Bun.spawn([BUNIX, "build", "--store", root, "--no-out-link", ...counterOption(), drv], { env: buildEnv(), stdout: "pipe", stderr: "pipe" }),
      Bun.spawn(["nix-store", "--store", root, ...counterOption(), "--option", "build-poll-interval", "1", "-r", drv], { env: buildEnv(), stdout: "pipe", stderr: "pipe" }),
    ];
    const results = await Promise.all(procs.map(async (p) => ({ code: await p.exited, stdout: await new Response(p.stdout).text(), stderr: await new Response(p.stderr).text() })));
    for (const r of results) expect(r).toMatchObject({ code: 0 });
    expect(results[0]!.stdout.trim().split("\n").sort()).toEqual(results[1]!.stdout.trim().split("\n").sort());
    expect(tracedRuns()).toEqual({ traced1: 1, traced2: 1, traced3: 1 });
    expectVerifies(root);
  });
});
