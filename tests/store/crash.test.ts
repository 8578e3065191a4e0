// Crash safety: processes adding and deleting paths are killed with SIGKILL
// at random points. Afterwards no valid path may have missing or wrong
// contents, both tools' verification is clean, and the same work completes
// when run again (no stale lock or half-written object gets in the way).
import { beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { Random } from "../helpers/random.ts";
import { scratchDir } from "../helpers/tmp.ts";

const KILLS = Number(process.env.BUNIX_CRASH_KILLS ?? 50);

let bunix: string;
beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
});

/** A tree big enough that adding it takes a while: many files and a few larger ones. */
function makeTree(path: string, seed: number): void {
  const rng = new Random(seed);
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(path, `dir-${d}`), { recursive: true });
    for (let f = 0; f < 60; f++) writeFileSync(join(path, `dir-${d}`, `file-${f}`), rng.bytes(rng.int(4096)));
  }
  for (let b = 0; b < 3; b++) writeFileSync(join(path, `big-${b}`), rng.bytes(3 << 20));
}

test(`${KILLS} adds and deletes killed with SIGKILL leave a consistent store`, async () => {
  const dir = scratchDir("crash");
  const store = join(dir, "root");
  const trees = [...Array(6)].map((_, i) => {
    const path = join(dir, `tree-${i}`);
    makeTree(path, 100 + i);
    return path;
  });
  const rng = new Random(4242);
  runOk([bunix, "store", "init", "--store", store], { env: nixEnv() });
  let killed = 0;
  let finished = 0;
  // Keep going until KILLS processes were actually killed mid-way (some finish before the signal).
  for (let attempt = 0; killed < KILLS && attempt < KILLS * 4; attempt++) {
    const tree = trees[rng.int(trees.length)]!;
    const kind = rng.int(4);
    let argv: string[];
    if (kind <= 1) argv = [bunix, "store", "add", tree, "--store", store];
    else if (kind === 2) argv = [bunix, "store", "add", "--flat", join(tree, "big-0"), "--store", store];
    else {
      const valid = runOk(["nix-store", "--store", store, "--dump-db"]).toString().split("\n").filter((l) => l.startsWith("/nix/store/") && l.includes("tree-"));
      argv = valid.length > 0 ? [bunix, "store", "delete", valid[rng.int(valid.length)]!, "--store", store] : [bunix, "store", "add", tree, "--store", store];
    }
    const proc = Bun.spawn(argv, { env: nixEnv(), stdout: "ignore", stderr: "pipe" });
    await Bun.sleep(rng.int(250));
    proc.kill("SIGKILL");
    const code = await proc.exited;
    if (proc.signalCode === "SIGKILL") killed++;
    else {
      finished++;
      const stderr = await new Response(proc.stderr).text();
      expect({ argv: argv.slice(1, 3), code, stderr: code === 0 ? "" : stderr }).toEqual({ argv: argv.slice(1, 3), code: 0, stderr: "" });
    }
  }
  console.log(`crash: ${killed} processes killed, ${finished} finished before the signal`);
  expect(killed).toBeGreaterThanOrEqual(KILLS);

  // Everything that is valid is complete and correct.
  const verify = run(["nix-store", "--store", store, "--verify", "--check-contents"]);
  expect({ code: verify.code, errors: verify.stderr.split("\n").filter((l) => l.startsWith("error") || l.includes("modified")) }).toEqual({ code: 0, errors: [] });

  // The interrupted work completes now, and gives the paths a fresh store gives.
  for (const tree of trees) {
    const again = runOk([bunix, "store", "add", tree, "--store", store], { env: nixEnv() }).toString();
    expect(again).toBe(runOk([bunix, "store", "add", "--dry-run", tree]).toString());
  }
  runOk(["nix-store", "--store", store, "--verify", "--check-contents"]);
}, 600_000);
