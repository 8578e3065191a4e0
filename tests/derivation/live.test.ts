// Live differential tests: derivations instantiated by real nix-instantiate
// (fixed features plus random ones) get the same .drv paths, output paths and
// show-derivation JSON from bunix.
import { beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "../helpers/nix-expr.ts";
import { bunixBinary, requireNix, runOk } from "../helpers/nix.ts";
import { Random } from "../helpers/random.ts";
import { scratchDir } from "../helpers/tmp.ts";

const NIX = ["nix", "--extra-experimental-features", "nix-command"];
let bunix: string;
let root: string;
let drvPaths: string[];
let shown: Record<string, { outputs: Record<string, { path?: string }> }>;

beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
  const dir = scratchDir("drv-live");
  root = join(dir, "root");
  writeFileSync(join(dir, "expr-src"), "a source file copied into the store\n");
  const { body, names } = generate(new Random(42), 40);
  writeFileSync(join(dir, "drvs.nix"), `rec {\n${body}\n}\n`);
  const args = names.flatMap((n) => ["-A", n]);
  // A derivation whose first output is not "out" prints as "<drv>!<output>".
  drvPaths = runOk(["nix-instantiate", "--store", root, join(dir, "drvs.nix"), ...args]).toString().trim().split("\n").map((l) => l.replace(/!.*$/, ""));
  shown = JSON.parse(runOk([...NIX, "show-derivation", "--store", root, ...drvPaths]).toString());
});

test("nix-instantiate made at least 60 derivations of every kind", () => {
  expect(drvPaths.length).toBeGreaterThanOrEqual(60);
  const kinds = new Set(Object.values(shown).flatMap((d) => Object.values(d.outputs).map((o) => JSON.stringify(Object.keys(o)))));
  expect(kinds).toContain(JSON.stringify(["path", "hashAlgo", "hash"]));
  expect(Object.values(shown).some((d) => Object.keys(d.outputs).length > 2)).toBe(true);
});

test("bunix drv path gives the same .drv path and output paths", () => {
  const out = runOk([bunix, "drv", "path", "--store", root, ...drvPaths.map((p) => `${root}${p}`)]).toString().trim().split("\n");
  let at = 0;
  for (const drvPath of drvPaths) {
    expect(out[at++]).toBe(drvPath);
    for (const [name, o] of Object.entries(shown[drvPath]!.outputs)) expect(out[at++]).toBe(`${name} ${o.path}`);
  }
  expect(at).toBe(out.length);
});

test("bunix drv show prints nix show-derivation's bytes", () => {
  const expected = runOk([...NIX, "show-derivation", "--store", root, ...drvPaths]);
  expect(runOk([bunix, "drv", "show", "--store", root, ...drvPaths]).equals(expected)).toBe(true);
  const tip = drvPaths.find((p) => p.endsWith("-chain5.drv"))!;
  const recursive = runOk([...NIX, "show-derivation", "-r", "--store", root, tip]);
  expect(runOk([bunix, "drv", "show", "-r", "--store", root, tip]).equals(recursive)).toBe(true);
});

test("the show-derivation JSON of each derivation gives the same paths", () => {
  const dir = scratchDir("drv-json");
  const files = drvPaths.map((p, i) => {
    const file = join(dir, `${i}.json`);
    writeFileSync(file, JSON.stringify({ [p]: shown[p] }));
    return file;
  });
  const out = runOk([bunix, "drv", "path", "--json", "--store", root, ...files]).toString();
  const results = JSON.parse(out) as Array<{ drvPath: string; outputs: Record<string, string> }>;
  results.forEach((r, i) => {
    const drvPath = drvPaths[i]!;
    expect(r.drvPath).toBe(drvPath);
    expect(r.outputs).toEqual(Object.fromEntries(Object.entries(shown[drvPath]!.outputs).map(([n, o]) => [n, o.path!])));
  });
});
