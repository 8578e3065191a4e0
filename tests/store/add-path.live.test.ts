// Live differential tests: the paths `bunix store add --dry-run` computes are
// the paths real `nix-store --add` / `--add-fixed` register in a throw-away store.
import { beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, readdirSync } from "node:fs";
import { HASH_ALGORITHMS } from "../../internal/hash/algorithm.ts";
import { getCorpus } from "../helpers/corpus.ts";
import { bunixBinary, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

let bunix: string;
let store: string;
let trees: string[];
let regularFiles: string[];

beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
  store = scratchDir("nix-store-root");
  const corpus = getCorpus();
  trees = corpus.trees;
  // Flat ingestion takes regular files only.
  regularFiles = [...trees, ...corpus.bigTrees].filter((t) => lstatSync(t).isFile());
});

const text = (b: Buffer) => b.toString("latin1");

test("nix-store --add of 200 trees", () => {
  const expected = text(runOk(["nix-store", "--store", store, "--add", ...trees]));
  expect(expected.trim().split("\n").length).toBe(trees.length);
  expect(text(runOk([bunix, "store", "add", "--dry-run", ...trees]))).toBe(expected);
  // The paths really are in the store Nix wrote.
  const present = new Set(readdirSync(`${store}/nix/store`));
  for (const path of expected.trim().split("\n")) expect(present.has(path.slice("/nix/store/".length))).toBe(true);
});

describe("nix-store --add-fixed", () => {
  for (const algorithm of HASH_ALGORITHMS) {
    test(`--recursive ${algorithm} of 200 trees`, () => {
      const expected = text(runOk(["nix-store", "--store", store, "--add-fixed", "--recursive", algorithm, ...trees]));
      expect(text(runOk([bunix, "store", "add", "--dry-run", "--hash-algo", algorithm, ...trees]))).toBe(expected);
    });
    test(`flat ${algorithm} of regular files`, () => {
      expect(regularFiles.length).toBeGreaterThan(5);
      const expected = text(runOk(["nix-store", "--store", store, "--add-fixed", algorithm, ...regularFiles]));
      expect(text(runOk([bunix, "store", "add", "--dry-run", "--flat", "--hash-algo", algorithm, ...regularFiles]))).toBe(expected);
    });
  }
});

test("flat ingestion of anything but a regular file fails in both", () => {
  const others = trees.filter((t) => !lstatSync(t).isFile()).slice(0, 10);
  for (const path of others) {
    expect(run(["nix-store", "--store", store, "--add-fixed", "sha256", path]).code).not.toBe(0);
    const ours = run([bunix, "store", "add", "--dry-run", "--flat", path]);
    expect(ours.code).toBe(1);
    expect(ours.stderr).toContain("is not a regular file");
  }
});

test("--store-dir and NIX_STORE_DIR change the logical store dir", () => {
  const tree = trees[0]!;
  const expected = text(runOk(["nix-store", "--store", `local?root=${scratchDir("gnu")}&store=/gnu/store`, "--add", tree]));
  expect(expected.startsWith("/gnu/store/")).toBe(true);
  expect(text(runOk([bunix, "store", "add", "--dry-run", "--store-dir", "/gnu/store", tree]))).toBe(expected);
  expect(text(runOk([bunix, "store", "add", "--dry-run", tree], { env: { ...process.env, NIX_STORE_DIR: "/gnu/store" } as Record<string, string> }))).toBe(expected);
});
