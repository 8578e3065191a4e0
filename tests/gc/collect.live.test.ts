// The garbage collector against real Nix 2.8 on one store with roots of every
// kind (direct, indirect through auto/ to a ./result, per-user, a regular
// file named like a store path, a profile, a .drv, a process's cwd, open file
// and environment, a temporary root of another process), multiple outputs,
// paths from both tools, junk entries: --print-roots/--print-dead/--print-live
// print what nix-store prints with keep-outputs and keep-derivations on and
// off; `bunix gc` deletes exactly what nix-store --gc --print-dead names (with
// the keep-outputs/keep-derivations cycle), real `nix-store --verify
// --check-contents` is clean afterwards, also after `bunix store optimise`.
//
// Nix deletes junk entries even when only printing, so bunix runs first and
// the junk is recreated after each Nix run: both tools see the same store.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, requireNix, run } from "../helpers/nix.ts";
import { type GcFixture, buildFixture } from "./fixture.ts";

let bunix: string;
let fx: GcFixture;

beforeAll(async () => {
  requireNix();
  bunix = bunixBinary();
  fx = await buildFixture(bunix);
}, 300_000);

afterAll(() => {
  for (const holder of fx?.holders ?? []) holder.kill();
});

interface Keep {
  outputs: boolean;
  derivations: boolean;
}

const options = (keep: Keep) => ["--option", "keep-outputs", String(keep.outputs), "--option", "keep-derivations", String(keep.derivations)];

function nixGc(flags: string[], keep: Keep) {
  const result = run(["nix-store", "--gc", ...flags, ...options(keep)], { env: fx.env });
  if (result.code !== 0) throw new Error(`nix-store --gc ${flags.join(" ")}: ${result.stderr}`);
  fx.makeJunk();
  return result;
}

function bunixGc(flags: string[], keep: Keep) {
  const result = run([bunix, "gc", ...flags, ...options(keep)], { env: fx.env });
  if (result.code !== 0) throw new Error(`bunix gc ${flags.join(" ")}: ${result.stderr}`);
  return result;
}

const lines = (text: Buffer | string) => text.toString().split("\n").filter((l) => l !== "");
const deletedLines = (stderr: string) => lines(stderr).filter((l) => l.startsWith("deleting '")).map((l) => l.slice(10, -1)).sort();

function verifyClean(): void {
  const verify = run(["nix-store", "--verify", "--check-contents"], { env: fx.env });
  expect({ code: verify.code, problems: lines(verify.stderr).filter((l) => !l.startsWith("reading") && !l.startsWith("checking")) }).toEqual({ code: 0, problems: [] });
}

function unusedLinks(): string[] {
  const links = join(fx.storeDir, ".links");
  return existsSync(links) ? readdirSync(links).filter((name) => lstatSync(join(links, name)).nlink === 1) : [];
}

test("--print-roots prints what nix-store --gc --print-roots prints", () => {
  const ours = run([bunix, "gc", "--print-roots"], { env: fx.env });
  const theirs = run(["nix-store", "--gc", "--print-roots"], { env: fx.env });
  expect(ours.code).toBe(0);
  expect(ours.stdout.toString()).toBe(theirs.stdout.toString());
  const text = ours.stdout.toString();
  // The user's link, not the auto/ entry; runtime roots as /proc files; the temporary root with its pid.
  expect(text).toContain(`${join(fx.dir, "project", "result")} -> ${fx.out["top"]}\n`);
  expect(text).not.toContain("gcroots/auto");
  expect(text).toMatch(/\/proc\/\d+\/cwd -> /);
  expect(text).toMatch(/\/proc\/\d+\/fd\/0 -> /);
  expect(text).toMatch(/\/proc\/\d+\/environ -> /);
  expect(text).toMatch(new RegExp(`\\{temp:\\d+\\} -> ${fx.out["tempHeld"]}`));
  expect(ours.stderr).toContain("removing stale link from");
});

const SETTINGS: Keep[] = [
  { outputs: false, derivations: true },
  { outputs: false, derivations: false },
  { outputs: true, derivations: true },
  { outputs: true, derivations: false },
];

describe("--print-dead and --print-live match nix-store", () => {
  for (const keep of SETTINGS) {
    test(`keep-outputs = ${keep.outputs}, keep-derivations = ${keep.derivations}`, () => {
      fx.makeJunk();
      const ourDead = bunixGc(["--print-dead"], keep).stdout.toString();
      const ourLive = bunixGc(["--print-live"], keep).stdout.toString();
      const theirDead = nixGc(["--print-dead"], keep).stdout.toString();
      const theirLive = nixGc(["--print-live"], keep).stdout.toString();
      expect(ourDead).toBe(theirDead);
      expect(ourLive).toBe(theirLive);
      const dead = new Set(lines(ourDead));
      const live = new Set(lines(ourLive));
      for (const name of fx.junk) expect(dead.has(`${fx.storeDir}/${name}`)).toBe(true);
      for (const held of ["tempHeld", "envHeld", "fdHeld", "dir", "leaf", "top", "bunixText", "bunixTree"]) expect(live.has(fx.out[held]!)).toBe(true);
      expect(dead.has(fx.out["unrooted"]!)).toBe(true);
      expect(dead.has(fx.out["nixAdded"]!)).toBe(true);
      expect(live.has(fx.out["drvRooted"]!)).toBe(keep.outputs);
      expect(live.has(fx.drv["top"]!)).toBe(keep.derivations);
    });
  }
});

describe("bunix store delete", () => {
  const keep = { outputs: true, derivations: true };
  const del = (...paths: string[]) => run([bunix, "store", "delete", ...paths, ...options(keep)], { env: fx.env });

  test("refuses live paths and says what keeps them", () => {
    const leaf = del(fx.out["leaf"]!);
    expect(leaf.code).toBe(1);
    expect(leaf.stderr).toContain(`since it is still alive: '${fx.out["leaf"]}' is a root (${join(fx.stateDir, "gcroots", "direct-leaf")})`);
    const multi = del(fx.out["multi"]!);
    expect(multi.stderr).toContain(`'${fx.out["top"]}' is a root (${join(fx.dir, "project", "result")}), which refers to '${fx.out["multi.dev"]}', which refers to '${fx.out["multi"]}'`);
    const doc = del(fx.out["drvRooted.doc"]!);
    expect(doc.stderr).toContain(`is a root (${join(fx.stateDir, "gcroots", "per-user", "tester", "drv-root")}), which has the output (keep-outputs) '${fx.out["drvRooted.doc"]}'`);
    expect(del(fx.out["tempHeld"]!).stderr).toMatch(/it is in use by process \{temp:\d+\}/);
    expect(del(fx.out["fdHeld"]!).stderr).toMatch(/is a root \(\/proc\/\d+\/fd\/\d+\)/);
    for (const path of [fx.out["leaf"]!, fx.out["multi"]!, fx.out["drvRooted.doc"]!, fx.out["tempHeld"]!]) expect(existsSync(path)).toBe(true);
  });

  test("refuses a path another dead path needs, then deletes both together", () => {
    writeFileSync(join(fx.dir, "needed"), "needed\n");
    const needed = run([bunix, "store", "add", join(fx.dir, "needed")], { env: fx.env }).stdout.toString().trim();
    writeFileSync(join(fx.dir, "needs"), `needs ${needed}\n`);
    const needs = run([bunix, "store", "add-text", "needs", join(fx.dir, "needs")], { env: fx.env }).stdout.toString().trim();
    const alone = del(needed);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain(`'${needs}' refers to '${needed}'`);
    const both = run([bunix, "nix-store", "--delete", needed, needs, ...options(keep)], { env: fx.env });
    expect({ code: both.code, stdout: both.stdout.toString() }).toEqual({ code: 0, stdout: "2 store paths deleted, 0.00 MiB freed\n" });
    expect(existsSync(needed) || existsSync(needs)).toBe(false);
  });
});

describe("collecting", () => {
  test("with the keep-outputs/keep-derivations cycle: deletes exactly what nix-store --gc --print-dead names", () => {
    const keep = { outputs: true, derivations: true };
    fx.makeJunk();
    const expected = lines(nixGc(["--print-dead"], keep).stdout).sort();
    const result = bunixGc([], keep);
    expect(deletedLines(result.stderr)).toEqual(expected);
    expect(result.stdout.toString()).toMatch(new RegExp(`^${expected.length} store paths deleted, \\d+\\.\\d\\d MiB freed\\n$`));
    for (const path of expected) expect(existsSync(path)).toBe(false);
    verifyClean();
    expect(lines(run(["nix-store", "--gc", "--print-dead", ...options(keep)], { env: fx.env }).stdout)).toEqual([]);
    expect(unusedLinks()).toEqual([]);
    expect(existsSync(join(fx.storeDir, "trash"))).toBe(false);
  });

  test("after bunix store optimise the store verifies, and a second collection matches nix-store again", () => {
    const optimise = run([bunix, "store", "optimise"], { env: fx.env });
    expect(optimise.code).toBe(0);
    const linked = /^(\d+\.\d\d) MiB freed by hard-linking (\d+) files\n$/.exec(optimise.stdout.toString());
    expect(linked).not.toBeNull();
    expect(Number(linked![2])).toBeGreaterThan(0);
    verifyClean();
    // A second run finds everything linked already.
    expect(run([bunix, "store", "optimise"], { env: fx.env }).stdout.toString()).toBe("0.00 MiB freed by hard-linking 0 files\n");
    expect(run([bunix, "store", "optimise", "--stats"], { env: fx.env }).stdout.toString()).toMatch(/^\d+ files in \.links shared by \d+ store files/);

    rmSync(join(fx.dir, "project", "result"));
    const keep = { outputs: false, derivations: true };
    fx.makeJunk();
    const expected = lines(nixGc(["--print-dead"], keep).stdout).sort();
    expect(expected).toContain(fx.out["top"]!);
    expect(deletedLines(bunixGc([], keep).stderr)).toEqual(expected);
    verifyClean();
    expect(unusedLinks()).toEqual([]);
  });
});
