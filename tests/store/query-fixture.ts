/**
 * A throw-away store for the query tests, written by both tools:
 * real Nix builds derivations whose outputs refer to each other (a chain, a
 * diamond, a self reference, several outputs, fixed outputs, an output that
 * refers to a `.drv`, text files with references) and adds paths with
 * `nix-store --add` / `--add-fixed`; then bunix adds trees and text objects
 * that refer to Nix's paths and to each other.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nixEnv, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

export interface QueryStore {
  /** Scratch directory holding the store root and the `result` links. */
  dir: string;
  root: string;
  /** Every valid path, sorted. */
  paths: string[];
  /** The valid `.drv` paths. */
  drvs: string[];
  /** Paths bunix added. */
  bunixAdded: string[];
}

const text = (b: Buffer) => b.toString("latin1");
const lines = (b: Buffer) => text(b).split("\n").filter((l) => l !== "");

function expression(flatHash: string, recursiveHash: string): string {
  return String.raw`
let
  sys = "x86_64-linux";
  mk = name: script: derivation { inherit name; system = sys; builder = "/bin/sh"; args = [ "-c" script ]; };
  src = builtins.toFile "src.txt" "some source\n";
  srcRef = builtins.toFile "ref.txt" "refers to ${"$"}{src}\n";
  chain1 = mk "chain-1" "echo start > $out";
  chain2 = mk "chain-2" "echo ${"$"}{chain1} > $out";
  chain3 = mk "chain-3" "echo ${"$"}{chain2} > $out";
  bottom = mk "bottom" "echo bottom > $out";
  left = mk "left" "echo ${"$"}{bottom} > $out";
  right = mk "right" "echo ${"$"}{bottom} > $out";
  top = mk "top" "mkdir $out; echo ${"$"}{left} ${"$"}{right} > $out/deps; echo $out > $out/self";
  self = mk "self" "mkdir $out; echo $out > $out/self; echo ${"$"}{chain3} > $out/dep";
  multi = derivation {
    name = "multi"; system = sys; builder = "/bin/sh"; outputs = [ "out" "dev" "lib" ];
    args = [ "-c" "echo lib > $lib; echo $lib > $out; echo $out $lib $dev > $dev" ];
  };
  useMulti = mk "use-multi" "echo ${"$"}{multi.dev} ${"$"}{top} > $out";
  foFlat = derivation { name = "fo-flat"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo hello > $out" ]; outputHashAlgo = "sha256"; outputHash = "${flatHash}"; };
  foRec = derivation { name = "fo-rec"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo hello > $out" ]; outputHashMode = "recursive"; outputHashAlgo = "sha256"; outputHash = "${recursiveHash}"; };
  # The same fixed output from a second derivation: the path has two valid derivers.
  foFlatAlt = derivation { name = "fo-flat"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo hello > $out" "alt" ]; outputHashAlgo = "sha256"; outputHash = "${flatHash}"; };
  useFixed = mk "use-fixed" "echo ${"$"}{foFlat} ${"$"}{foRec} ${"$"}{srcRef} > $out";
  drvRef = mk "drv-ref" "echo ${"$"}{chain1.drvPath} > $out";
  noDeps = derivation { name = "no-deps"; system = sys; builder = "/bin/sh"; args = [ "-c" "echo x > $out" ]; };
in { inherit chain3 top self multi useMulti foFlat foFlatAlt foRec useFixed drvRef noDeps; }
`;
}

export function buildQueryStore(bunix: string): QueryStore {
  const dir = scratchDir("query");
  const root = join(dir, "root");
  const env = nixEnv();

  writeFileSync(join(dir, "hello"), "hello\n");
  const flatHash = text(runOk(["nix-hash", "--type", "sha256", "--flat", "--base32", join(dir, "hello")], { env })).trim();
  const recursiveHash = text(runOk(["nix-hash", "--type", "sha256", "--base32", join(dir, "hello")], { env })).trim();
  writeFileSync(join(dir, "query.nix"), expression(flatHash, recursiveHash));
  runOk(["nix-build", "--store", root, join(dir, "query.nix"), "--no-out-link"], { env });
  // A `result` link as nix-build makes it: to the logical /nix/store path.
  runOk(["nix-build", "--store", root, join(dir, "query.nix"), "-A", "useMulti", "-o", join(dir, "result")], { env });
  symlinkSync("result", join(dir, "again"));

  mkdirSync(join(dir, "tree/sub"), { recursive: true });
  writeFileSync(join(dir, "tree/a"), "a\n");
  writeFileSync(join(dir, "tree/sub/b"), "b\n");
  symlinkSync("a", join(dir, "tree/link"));
  writeFileSync(join(dir, "file.txt"), "a text file\n");
  runOk(["nix-store", "--store", root, "--add", join(dir, "tree"), join(dir, "file.txt")], { env });
  const [fixed] = lines(runOk(["nix-store", "--store", root, "--add-fixed", "sha256", join(dir, "file.txt")], { env }));

  // bunix writes: a tree, a text object referring to Nix's paths, one referring to that.
  const bunixAdded: string[] = [];
  mkdirSync(join(dir, "bunix-tree"));
  writeFileSync(join(dir, "bunix-tree/x"), "x\n");
  bunixAdded.push(...lines(runOk([bunix, "store", "add", "--store", root, join(dir, "bunix-tree")], { env })));
  const useMulti = text(runOk(["readlink", join(dir, "result")], { env })).trim();
  const [top] = lines(runOk(["nix-store", "--store", root, "-q", "--references", useMulti], { env })).filter((p) => p.endsWith("-top"));
  writeFileSync(join(dir, "note"), `uses ${useMulti} and ${top}\nand ${fixed} and ${bunixAdded[0]}\n`);
  bunixAdded.push(...lines(runOk([bunix, "store", "add-text", "--store", root, "note.txt", join(dir, "note")], { env })));
  writeFileSync(join(dir, "note2"), `see ${bunixAdded[1]}\n`);
  bunixAdded.push(...lines(runOk([bunix, "store", "add-text", "--store", root, "note2.txt", join(dir, "note2")], { env })));
  writeFileSync(join(dir, "plain"), "no references here\n");
  bunixAdded.push(...lines(runOk([bunix, "nix-store", "--store", root, "--add", join(dir, "plain")], { env })));

  const all = run(["nix", "path-info", "--store", root, "--all"], { env });
  if (all.code !== 0) throw new Error(`nix path-info --all: ${all.stderr}`);
  const paths = lines(all.stdout).sort();
  return { dir, root, paths, drvs: paths.filter((p) => p.endsWith(".drv")), bunixAdded };
}
