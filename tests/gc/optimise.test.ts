// The optimiser against real Nix 2.8: on identical copies of a store
// populated by both tools, `bunix store optimise` links the same files into
// the same .links entries as `nix-store --optimise` and reports the same
// summary; auto-optimise-store deduplicates each new path; corrupt pool
// entries are replaced, owner-writable files skipped; real `nix-store
// --verify --check-contents` is clean afterwards.
import { beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { Random } from "../helpers/random.ts";
import { scratchDir } from "../helpers/tmp.ts";

let bunix: string;
beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
});

/** A tree with duplicate files (plain and executable), a symlink pair and an empty file. */
function makeTree(dir: string, seed: number): string {
  const rng = new Random(seed);
  const contents = Array.from({ length: 4 }, (_, i) => `content ${i}\n`.repeat(1 + rng.int(100)));
  for (let d = 0; d < 3; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < 6; f++) writeFileSync(join(dir, `d${d}`, `f${f}`), rng.pick(contents), { mode: f === 5 ? 0o755 : 0o644 });
  }
  writeFileSync(join(dir, "empty"), "");
  writeFileSync(join(dir, "empty2"), "");
  return dir;
}

function realStoreDir(root: string): string {
  return join(root, "nix/store");
}

function verifyClean(root: string): void {
  const verify = run(["nix-store", "--store", root, "--verify", "--check-contents"]);
  expect({ code: verify.code, errors: verify.stderr.split("\n").filter((l) => l.startsWith("error") || l.includes("modified")) }).toEqual({ code: 0, errors: [] });
}

test("bunix store optimise links what nix-store --optimise links, and the store verifies", () => {
  const dir = scratchDir("optimise");
  const root = join(dir, "root");
  for (let i = 0; i < 4; i++) runOk([bunix, "store", "add", makeTree(join(dir, `tree${i}`), i), "--store", root], { env: nixEnv() });
  runOk(["nix-store", "--store", root, "--add", makeTree(join(dir, "nix-tree"), 9)]);
  const copy = join(dir, "copy");
  runOk(["cp", "-a", root, copy]);

  const theirs = run(["nix-store", "--store", copy, "--optimise"]);
  const ours = run([bunix, "nix-store", "--store", root, "--optimise"]);
  expect(ours.code).toBe(0);
  const summary = (stderr: string) => stderr.split("\n").find((l) => l.includes("freed by hard-linking"));
  expect(summary(ours.stderr)).toBe(summary(theirs.stderr)!);
  expect(summary(ours.stderr)).not.toContain(" 0 files");
  expect(readdirSync(join(realStoreDir(root), ".links")).sort()).toEqual(readdirSync(join(realStoreDir(copy), ".links")).sort());
  verifyClean(root);
  // Every object directory is canonical again.
  for (const name of readdirSync(realStoreDir(root)).filter((n) => !n.startsWith("."))) {
    const st = lstatSync(join(realStoreDir(root), name, "d0"));
    expect({ name, mode: st.mode & 0o7777, mtime: st.mtimeMs }).toEqual({ name, mode: 0o555, mtime: 1000 });
  }
  // The pool's link counts give the deduplication.
  const stats = runOk([bunix, "store", "optimise", "--stats", "--store", root]).toString();
  expect(stats).toMatch(new RegExp(`^${readdirSync(join(realStoreDir(root), ".links")).length} files in \\.links shared by \\d+ store files`));
});

test("a corrupt pool entry is replaced and an owner-writable file is skipped", () => {
  const dir = scratchDir("optimise-corrupt");
  const root = join(dir, "root");
  const tree = join(dir, "tree");
  mkdirSync(tree);
  writeFileSync(join(tree, "a"), "same\n");
  writeFileSync(join(tree, "b"), "same\n");
  writeFileSync(join(tree, "w"), "writable\n");
  const path = runOk([bunix, "store", "add", tree, "--store", root], { env: nixEnv() }).toString().trim();
  const object = join(root, path);
  // The pool name of "same\n" with the wrong size in it.
  const key = runOk([bunix, "hash", "path", "--type", "sha256", "--base32", join(tree, "a")]).toString().trim();
  mkdirSync(join(realStoreDir(root), ".links"), { recursive: true });
  writeFileSync(join(realStoreDir(root), ".links", key), "corrupt and longer\n");
  chmodSync(object, 0o755);
  chmodSync(join(object, "w"), 0o644);
  chmodSync(object, 0o555);
  const result = run([bunix, "store", "optimise", "--store", root], { env: nixEnv() });
  expect(result.code).toBe(0);
  expect(result.stderr).toContain(`warning: removing corrupted link '${join(realStoreDir(root), ".links", key)}'`);
  expect(result.stderr).toContain(`warning: skipping suspicious writable file '${join(object, "w")}'`);
  expect(result.stdout.toString()).toBe("0.00 MiB freed by hard-linking 1 files\n");
  expect(lstatSync(join(object, "a")).ino).toBe(lstatSync(join(object, "b")).ino);
  expect(lstatSync(join(object, "w")).nlink).toBe(1);
  verifyClean(root);
});

test("auto-optimise-store deduplicates each path as it is added", () => {
  const dir = scratchDir("auto-optimise");
  const root = join(dir, "root");
  const options = ["--store", root, "--option", "auto-optimise-store", "true"];
  const first = runOk([bunix, "store", "add", makeTree(join(dir, "t1"), 1), ...options], { env: nixEnv() }).toString().trim();
  const second = runOk([bunix, "store", "add", makeTree(join(dir, "t2"), 1), "--name", "again", ...options], { env: nixEnv() }).toString().trim();
  const a = lstatSync(join(root, first, "d0", "f0"));
  const b = lstatSync(join(root, second, "d0", "f0"));
  expect(a.ino).toBe(b.ino);
  expect(a.nlink).toBeGreaterThanOrEqual(3);
  // Executables never share an inode with plain files of the same bytes.
  expect(lstatSync(join(root, first, "d0", "f5")).mode & 0o111).toBe(0o111);
  expect(existsSync(join(realStoreDir(root), ".links"))).toBe(true);
  verifyClean(root);
  // Without the setting nothing is linked.
  const plain = runOk([bunix, "store", "add", makeTree(join(dir, "t3"), 3), "--store", root], { env: nixEnv() }).toString().trim();
  expect(lstatSync(join(root, plain, "d0", "f0")).nlink).toBe(1);
});
