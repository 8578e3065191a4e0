// Pure parts of the collector: which store-directory entries Nix 2.8 treats
// as store paths, how root targets map to store paths, and the fast bytewise
// sort of the printed paths.
import { describe, expect, test } from "bun:test";
import { sortPaths } from "../../internal/gc/collect.ts";
import { absPath, canonPath, isInDir, parsesAsStorePath, storePathOfTarget } from "../../internal/gc/names.ts";
import { compareBytewise } from "../../internal/store-path/store-path.ts";
import { Random } from "../helpers/random.ts";

const HASH = "0q870pwx666prn1wzbbhfjwmphbrnkd6";

describe("parsesAsStorePath (Nix 2.8's StorePath rules)", () => {
  test.each([
    [`${HASH}-a`, true],
    [`${HASH}-foo.lock`, true],
    [`${HASH}-foo.drv.chroot`, true],
    [`${HASH}Xfoo`, true], // the separator is not checked
    [`${HASH}-`, false], // empty name
    [`${HASH}`, false],
    [`${HASH.slice(0, 31)}e-a`, false], // 'e' is not Nix base-32
    [`${HASH.toUpperCase()}-a`, false],
    [`${HASH}-a b`, false],
    [`${HASH}-${"x".repeat(211)}`, true],
    [`${HASH}-${"x".repeat(212)}`, false],
    [".links", false],
    ["trash", false],
    [".tmp-link-12-34", false],
  ])("%s -> %p", (name, expected) => {
    expect(parsesAsStorePath(name)).toBe(expected);
  });
});

describe("root targets", () => {
  test("canonPath and absPath are lexical", () => {
    expect(canonPath("/a//b/./c/../d/")).toBe("/a/b/d");
    expect(canonPath("/../x")).toBe("/x");
    expect(absPath("../result", "/home/u/proj")).toBe("/home/u/result");
    expect(absPath("/abs/x", "/ignored")).toBe("/abs/x");
  });

  test("isInDir needs something after the slash", () => {
    expect(isInDir("/nix/store/x", "/nix/store")).toBe(true);
    expect(isInDir("/nix/store/", "/nix/store")).toBe(false);
    expect(isInDir("/nix/storex/y", "/nix/store")).toBe(false);
  });

  test("storePathOfTarget takes the first component, as Nix's toStorePath", () => {
    expect(storePathOfTarget("/nix/store", `/nix/store/${HASH}-a/bin/x`)).toBe(`/nix/store/${HASH}-a`);
    expect(storePathOfTarget("/nix/store", `/nix/store/${HASH}-a`)).toBe(`/nix/store/${HASH}-a`);
    expect(storePathOfTarget("/nix/store", "/nix/store/short")).toBeUndefined();
    expect(storePathOfTarget("/nix/store", `/nix/store/../store/${HASH}-a`)).toBeUndefined();
    expect(storePathOfTarget("/nix/store", `/elsewhere/${HASH}-a`)).toBeUndefined();
  });
});

test("sortPaths orders like a bytewise comparison, whatever the names", () => {
  const rng = new Random(7);
  const alphabet = ["0", "1", "a", "z", "A", "-", ".", "é", "日", "😀", "\u007f", "~"];
  for (let round = 0; round < 50; round++) {
    const paths = Array.from({ length: 200 }, () => `/nix/store/${Array.from({ length: rng.int(8) }, () => rng.pick(alphabet)).join("")}`);
    expect(sortPaths([...paths], "/nix/store")).toEqual([...paths].sort(compareBytewise));
  }
});
