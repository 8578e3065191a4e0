// Live differential tests: nix-hash and `nix hash` against `bunix hash` and
// the nix-hash alias, on the 200-tree corpus, for every algorithm and encoding.
import { beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, symlinkSync } from "node:fs";
import { HASH_ALGORITHMS } from "../../internal/hash/algorithm.ts";
import { getCorpus } from "../helpers/corpus.ts";
import { bunixBinary, requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

const NIX = ["nix", "--extra-experimental-features", "nix-command"];
let bunix: string;
let alias: string;
let trees: string[];
let files: string[];

beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
  alias = `${scratchDir("alias")}/nix-hash`;
  symlinkSync(bunix, alias);
  const corpus = getCorpus();
  trees = [...corpus.trees, ...corpus.bigTrees];
  files = trees.filter((t) => lstatSync(t).isFile());
});

const lines = (out: Buffer) => out.toString("latin1");

describe("nix-hash (NAR hash) in base-16, base-32 and truncated", () => {
  for (const algorithm of HASH_ALGORITHMS) {
    for (const flags of [[], ["--base32"], ["--truncate"], ["--truncate", "--base32"]]) {
      test(`${algorithm} ${flags.join(" ") || "base16"}`, () => {
        const args = ["--type", algorithm, ...flags, ...trees];
        const expected = lines(runOk(["nix-hash", ...args]));
        expect(lines(runOk([alias, ...args]))).toBe(expected);
        const encoding = flags.includes("--base32") ? "--base32" : "--base16";
        const ours = runOk([bunix, "hash", "path", "--type", algorithm, encoding, ...(flags.includes("--truncate") ? ["--truncate"] : []), ...trees]);
        expect(lines(ours)).toBe(expected);
      });
    }
  }
});

describe("nix-hash --flat on regular files", () => {
  for (const algorithm of HASH_ALGORITHMS) {
    test(algorithm, () => {
      const expected = lines(runOk(["nix-hash", "--flat", "--type", algorithm, "--base32", ...files]));
      expect(lines(runOk([alias, "--flat", "--type", algorithm, "--base32", ...files]))).toBe(expected);
      expect(lines(runOk([bunix, "hash", "file", "--type", algorithm, "--base32", ...files]))).toBe(expected);
    });
  }
});

describe("nix hash path|file in base-64 and SRI", () => {
  for (const algorithm of HASH_ALGORITHMS) {
    for (const encoding of ["--base64", "--sri", "--base16", "--base32"]) {
      test(`${algorithm} ${encoding}`, () => {
        const expected = lines(runOk([...NIX, "hash", "path", "--type", algorithm, encoding, ...trees]));
        expect(lines(runOk([bunix, "hash", "path", "--type", algorithm, encoding, ...trees]))).toBe(expected);
        const flat = lines(runOk([...NIX, "hash", "file", "--type", algorithm, encoding, ...files]));
        expect(lines(runOk([bunix, "hash", "file", "--type", algorithm, encoding, ...files]))).toBe(flat);
      });
    }
  }
});

test("hash conversions match nix-hash --to-base16/--to-base32 and nix hash to-*", () => {
  for (const algorithm of HASH_ALGORITHMS) {
    const hashes = lines(runOk(["nix-hash", "--type", algorithm, ...trees.slice(0, 20)])).trim().split("\n");
    for (const to of ["--to-base32", "--to-base16"]) {
      const expected = lines(runOk(["nix-hash", "--type", algorithm, to, ...hashes]));
      expect(lines(runOk([alias, "--type", algorithm, to, ...hashes]))).toBe(expected);
    }
    for (const to of ["to-base16", "to-base32", "to-base64", "to-sri"]) {
      const expected = lines(runOk([...NIX, "hash", to, "--type", algorithm, ...hashes]));
      expect(lines(runOk([bunix, "hash", to, "--type", algorithm, ...hashes]))).toBe(expected);
    }
  }
});
