// Stress: 8 bunix workers and 2 real `nix-store --add` loops on one store at
// once. No command may fail, no registration may be lost, and both tools'
// verification must be clean afterwards.
import { beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT, bunixBinary, nixEnv, requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

const SECONDS = Number(process.env.BUNIX_STRESS_SECONDS ?? 25);
const BUNIX_WORKERS = 8;
const NIX_WORKERS = 2;

let bunix: string;
beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
});

interface Entry {
  op: string;
  path?: string;
  target?: string;
  refs?: string[];
  stderr?: string;
  argv?: string[];
}

test(`${BUNIX_WORKERS} bunix processes and ${NIX_WORKERS} nix-store --add loops share a store for ${SECONDS}s`, async () => {
  const dir = scratchDir("stress");
  const store = join(dir, "root");
  runOk([bunix, "store", "init", "--store", store], { env: nixEnv() });
  const workers = [...Array(BUNIX_WORKERS)].map((_, id) => {
    const work = join(dir, `bunix-${id}`);
    mkdirSync(work);
    return { work, id, proc: Bun.spawn(["bun", join(PROJECT, "tests/helpers/stress-worker.ts"), bunix, store, work, String(SECONDS), String(id)], { env: nixEnv(), stdout: "ignore", stderr: "pipe" }) };
  });
  const nixAdded: string[][] = [];
  const nixLoops = [...Array(NIX_WORKERS)].map(async (_, id) => {
    const added: string[] = [];
    nixAdded.push(added);
    const deadline = Date.now() + SECONDS * 1000;
    for (let n = 0; Date.now() < deadline; n++) {
      const file = join(dir, `nix-${id}-${n}`);
      writeFileSync(file, `nix worker ${id} item ${n} ${Math.random()}\n`);
      const proc = Bun.spawn(["nix-store", "--store", store, "--add", file], { env: nixEnv(), stdout: "pipe", stderr: "pipe" });
      const code = await proc.exited;
      const stderr = await new Response(proc.stderr).text();
      if (code !== 0) throw new Error(`nix-store --add failed (${code}): ${stderr}`);
      added.push((await new Response(proc.stdout).text()).trim());
    }
  });
  const codes = await Promise.all(workers.map((w) => w.proc.exited));
  await Promise.all(nixLoops);

  const live = new Set<string>();
  const deleted = new Set<string>();
  let operations = 0;
  for (const { work, id } of workers) {
    const file = join(work, `journal-${id}.jsonl`);
    const entries: Entry[] = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter((l) => l).map((l) => JSON.parse(l) as Entry) : [];
    const errors = entries.filter((e) => e.op === "error");
    expect(errors).toEqual([]);
    operations += entries.length;
    for (const e of entries) {
      if (e.op === "add" || e.op === "add-text") live.add(e.path!);
      if (e.op === "add-text") expect(e.refs).toEqual([e.target!]);
      if (e.op === "delete") {
        live.delete(e.path!);
        deleted.add(e.path!);
      }
    }
  }
  expect(codes).toEqual(Array(BUNIX_WORKERS).fill(0));
  for (const added of nixAdded) for (const p of added) live.add(p);
  expect(operations).toBeGreaterThan(BUNIX_WORKERS * 10);
  console.log(`stress: ${operations} bunix operations, ${nixAdded.flat().length} nix-store --add, ${live.size} live paths, ${deleted.size} deleted`);

  // Every registration that should exist does, for both tools; deleted ones are gone.
  const valid = new Set(runOk(["nix-store", "--store", store, "--check-validity", "--print-invalid", ...live]).toString().split("\n").filter((l) => l));
  expect([...valid]).toEqual([]);
  const all = new Set(runOk(["nix-store", "--store", store, "-q", "--requisites", ...live]).toString().trim().split("\n"));
  for (const p of live) expect(all.has(p)).toBe(true);
  for (const p of deleted) expect(existsSync(join(store, p))).toBe(false);
  runOk(["nix-store", "--store", store, "--verify", "--check-contents"]);
  // No staging directory or trash survives a clean run.
  expect(readdirSync(join(store, "nix/store")).filter((n) => n.includes("bunix-staging"))).toEqual([]);
}, 300_000);
