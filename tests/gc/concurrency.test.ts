// The collector under concurrency: `bunix gc` runs in a loop (and `bunix gc
// --max-freed` now and then) while worker processes add paths with `bunix
// store add`, real `nix-store --add` and real `nix-build` into the same store,
// each claiming its paths with temporary roots first (tests/gc/worker.ts).
// Every path a worker added and still holds must survive, no command may
// fail, and real `nix-store --verify --check-contents` must be clean.
import { beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT, bunixBinary, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

const SECONDS = Number(process.env.BUNIX_GC_STRESS_SECONDS ?? 20);
const WORKERS = 3;

let bunix: string;
beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
});

interface Report {
  held: string[];
  invalid: string[];
  failures: string[];
  counts: Record<string, number>;
}

test(`bunix gc in a loop beside ${WORKERS} workers adding and building for ${SECONDS}s`, async () => {
  const dir = scratchDir("gc-stress");
  const root = join(dir, "root");
  runOk([bunix, "store", "init", "--store", root], { env: nixEnv() });
  const workers = [...Array(WORKERS)].map((_, id) => {
    const work = join(dir, `w${id}`);
    mkdirSync(work);
    const proc = Bun.spawn(["bun", join(PROJECT, "tests/gc/worker.ts"), bunix, root, work, String(SECONDS), String(id)], { env: nixEnv(), stdout: "ignore", stderr: "pipe" });
    return { work, id, proc };
  });
  let running = true;
  const exited = Promise.all(workers.map((w) => w.proc.exited)).finally(() => {
    running = false;
  });
  let collections = 0;
  let deleted = 0;
  const gcErrors: string[] = [];
  while (running) {
    const flags = collections % 5 === 4 ? ["--max-freed", "1"] : [];
    const proc = Bun.spawn([bunix, "gc", "--store", root, ...flags], { env: nixEnv(), stdout: "pipe", stderr: "pipe" });
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    if (code !== 0) gcErrors.push(stderr);
    deleted += Number(/^(\d+) store paths deleted/.exec(stdout)?.[1] ?? 0);
    collections++;
  }
  const codes = await exited;
  const reports = workers.map((w) => JSON.parse(readFileSync(join(w.work, `report-${w.id}.json`), "utf8")) as Report);
  const stderrs = await Promise.all(workers.map((w) => new Response(w.proc.stderr).text()));
  expect({ codes, stderrs: stderrs.filter((s) => s.trim() !== "") }).toEqual({ codes: Array(WORKERS).fill(0), stderrs: [] });
  expect(gcErrors).toEqual([]);
  for (const report of reports) expect({ failures: report.failures, invalid: report.invalid }).toEqual({ failures: [], invalid: [] });
  const totals: Record<string, number> = {};
  for (const report of reports) for (const [k, v] of Object.entries(report.counts)) totals[k] = (totals[k] ?? 0) + v;
  console.log(`gc stress: ${collections} collections deleted ${deleted} paths; workers held ${reports.reduce((n, r) => n + r.held.length, 0)} paths; ${JSON.stringify(totals)}`);
  expect(collections).toBeGreaterThan(3);
  expect(deleted).toBeGreaterThan(0);
  expect(totals["nixBuild"]! + totals["nixAdd"]! + totals["bunixAdd"]!).toBeGreaterThan(WORKERS * 3);

  const verify = run(["nix-store", "--store", root, "--verify", "--check-contents"]);
  expect({ code: verify.code, errors: verify.stderr.split("\n").filter((l) => l.startsWith("error") || l.includes("modified")) }).toEqual({ code: 0, errors: [] });
  // With every worker gone, nothing is held: a last collection leaves no valid path.
  runOk([bunix, "gc", "--store", root], { env: nixEnv() });
  expect(runOk(["nix-store", "--store", root, "--dump-db"]).toString()).toBe("");
}, 300_000);
