/**
 * Builds of derivations instantiated by real nix-instantiate (interop.nix):
 * bunix builds them in one store, real nix-build in another, and every
 * output must come out the same: path, NAR hash and size, references,
 * deriver, content address. Files whose bytes Nix itself writes (the
 * environment, .attrs.json/.attrs.sh, exportReferencesGraph files) are
 * copied into the outputs by the builders, so they are compared too.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { BUILD_TESTS, type RecordedInfo, buildEnv, bunix, expectVerifies, instantiate, nixStoreOk, outputsOf, pathInfos, real } from "./live.ts";

const ATTRS = [
  "plain", "multi", "mutual", "crossOutputs",
  "foFlatSha256", "foFlatSha1", "foFlatSha512", "foRecSha256", "foRecSha1", "foRecSha512", "foRecFile",
  "chain1", "chain2", "chain3", "chain4", "chain5",
  "allowedRefs", "allowedSelf", "allowedReqs", "disallowedRefs", "disallowedReqs",
  "structured", "passAsFile", "graphLegacy", "graphStructured",
  "envPrint", "envFixed", "placeholders", "selfRef", "tree",
];

/** The tree the recursive fixed-output builders make, hashed by real nix-hash. */
function recursiveHashArgs(dir: string): string[] {
  const tree = join(dir, "tree");
  mkdirSync(join(tree, "sub"), { recursive: true });
  writeFileSync(join(tree, "file"), "data\n");
  writeFileSync(join(tree, "exe"), "#!/bin/sh\necho hi\n");
  chmodSync(join(tree, "exe"), 0o755);
  symlinkSync("file", join(tree, "link"));
  writeFileSync(join(tree, "sub/n"), "nested\n");
  writeFileSync(join(dir, "file"), "flat content\n");
  const hash = (type: string, path: string) => runOk(["nix-hash", "--type", type, path]).toString().trim();
  return [
    ["recDirSha256", hash("sha256", tree)],
    ["recDirSha1", hash("sha1", tree)],
    ["recDirSha512", hash("sha512", tree)],
    ["recFileSha256", hash("sha256", join(dir, "file"))],
  ].flatMap(([name, value]) => ["--argstr", name!, value!]);
}

let bunixRoot: string;
let nixRoot: string;
let drvs: Map<string, string>;
let bunixStdout: string;
const bunixInfos = new Map<string, RecordedInfo>();
const nixInfos = new Map<string, RecordedInfo>();

/** An output of an attribute, by output name (real Nix reads the .drv). */
function output(attr: string, name = "out"): string {
  const drv = drvs.get(attr)!;
  const shown = JSON.parse(runOk(["nix", "--store", nixRoot, "show-derivation", drv], { env: buildEnv() }).toString()) as Record<string, { outputs: Record<string, { path: string }> }>;
  const path = shown[drv]?.outputs[name]?.path;
  if (!path) throw new Error(`no output ${name} of ${attr}`);
  return path;
}

const bytesIn = (root: string, path: string) => readFileSync(real(root, path));

beforeAll(() => {
  requireNix();
  bunixBinary();
  const dir = scratchDir("build-interop");
  const args = recursiveHashArgs(dir);
  bunixRoot = join(dir, "bunix");
  nixRoot = join(dir, "nix");
  drvs = instantiate(bunixRoot, "interop.nix", ATTRS, args);
  runOk(["nix-build", "--store", nixRoot, "--no-out-link", join(BUILD_TESTS, "interop.nix"), ...args, ...ATTRS.flatMap((a) => ["-A", a])], { env: buildEnv() });
  const built = bunix(["build", "--store", bunixRoot, "--no-out-link", ...drvs.values()]);
  if (built.code !== 0) throw new Error(`bunix build failed (${built.code}):\n${built.stderr}`);
  bunixStdout = built.stdout.toString();
  const all = outputsOf(nixRoot, [...drvs.values()]);
  for (const [k, v] of pathInfos(bunixRoot, all)) bunixInfos.set(k, v);
  for (const [k, v] of pathInfos(nixRoot, all)) nixInfos.set(k, v);
}, 120_000);

describe("derivations instantiated by nix-instantiate, built by bunix and by nix-build", () => {
  test("at least 12 derivations, the same .drv files in both stores", () => {
    expect(drvs.size).toBeGreaterThanOrEqual(12);
    const nixDrvs = instantiate(nixRoot, "interop.nix", ["plain", "structured", "tree"], ["--argstr", "recDirSha256", "x"]);
    // Attributes that do not depend on the arguments have the same .drv in both stores.
    for (const [attr, drv] of nixDrvs) expect(drv).toBe(drvs.get(attr)!);
  });

  test.each(ATTRS)("%s: same output paths, NAR hashes and sizes, references, deriver, ca", (attr) => {
    const outputs = outputsOf(bunixRoot, [drvs.get(attr)!]);
    expect(outputs).toEqual(outputsOf(nixRoot, [drvs.get(attr)!]));
    for (const path of outputs) {
      const nix = nixInfos.get(path);
      expect(nix).toBeDefined();
      expect(nix!.deriver).toBe(drvs.get(attr)!);
      expect(bunixInfos.get(path)).toEqual(nix!);
      expect(nixStoreOk(bunixRoot, ["-q", "--hash", path])).toBe(nixStoreOk(nixRoot, ["-q", "--hash", path]));
    }
  });

  test("bunix prints every output path of every derivation", () => {
    expect(bunixStdout.trim().split("\n").sort()).toEqual(outputsOf(nixRoot, [...drvs.values()]).sort());
  });

  test("real nix-store --verify --check-contents finds bunix's store clean", () => {
    expectVerifies(bunixRoot);
  });

  test("the builder's environment is Nix's (env | sort)", () => {
    const env = bytesIn(bunixRoot, output("envPrint")).toString();
    expect(env).toBe(bytesIn(nixRoot, output("envPrint")).toString());
    // Derivation values override PATH but not TMPDIR; passAsFile gives a Path variable.
    expect(env).toContain("PATH=/custom-path\n");
    expect(env).toContain("TMPDIR=/build\n");
    expect(env).toMatch(/^bigTextPath=\/build\/\.attr-[0-9a-z]{52}$/m);
    expect(env).not.toContain("SPEC_IMPURE=");
    // PID 1, the working directory, uid/gid 1000/100, hostname, umask.
    expect(bytesIn(bunixRoot, output("envPrint", "dev")).toString()).toBe("1 /build 1000 100 localhost 0022\n");
  });

  test("a fixed-output builder's environment (in its log) is Nix's, with impureEnvVars", () => {
    const drv = drvs.get("envFixed")!;
    const log = nixStoreOk(bunixRoot, ["-l", drv]);
    expect(log).toBe(nixStoreOk(nixRoot, ["-l", drv]));
    expect(log).toContain("NIX_OUTPUT_CHECKED=1\n");
    expect(log).toContain("SPEC_IMPURE=impure-value\n");
  });

  test("structured attrs: .attrs.json, .attrs.sh and the environment are byte for byte Nix's", () => {
    for (const file of ["attrs.json", "attrs.sh", "env"]) {
      expect(bytesIn(bunixRoot, `${output("structured")}/${file}`).toString()).toBe(bytesIn(nixRoot, `${output("structured")}/${file}`).toString());
    }
    const json = bytesIn(bunixRoot, `${output("structured")}/attrs.json`).toString();
    const sh = bytesIn(bunixRoot, `${output("structured")}/attrs.sh`).toString();
    // Numbers as nlohmann::json keeps them, and Nix's int conversion in .attrs.sh.
    expect(json).toContain('"aHugeInt":9007199254740993');
    expect(json).toContain('"aFloatLong":123457000.0');
    expect(json).toContain('"aFloatBig":1e+20');
    expect(sh).toContain("declare aBigInt=705032704\n");
    expect(sh).toContain("declare -A anAttrset=(['k e'\\''y']='v'\\''q' ['x']='y' ['z']=1 )\n");
    expect(sh).not.toContain("not-an-identifier");
    // Placeholders are replaced by the output paths; no structured variable leaks out of the JSON.
    expect(json).toContain(`"placeholderText":"${output("structured")}/bin ${output("structured", "doc")}"`);
    expect(bytesIn(bunixRoot, `${output("structured")}/env`).toString()).not.toContain("aBool");
  });

  test("exportReferencesGraph files are Nix's, legacy and structured", () => {
    for (const file of ["graph", "graph2", "drvgraph"]) {
      const text = bytesIn(bunixRoot, `${output("graphLegacy")}/${file}`).toString();
      expect(text.length).toBeGreaterThan(0);
      expect(text).toBe(bytesIn(nixRoot, `${output("graphLegacy")}/${file}`).toString());
    }
    // The graph of a .drv includes its outputs' closures.
    expect(bytesIn(bunixRoot, `${output("graphLegacy")}/drvgraph`).toString()).toContain(`${output("multi", "lib")}\n`);
    for (const file of ["attrs.json", "attrs.sh"]) {
      expect(bytesIn(bunixRoot, `${output("graphStructured")}/${file}`).toString()).toBe(bytesIn(nixRoot, `${output("graphStructured")}/${file}`).toString());
    }
    expect(bytesIn(bunixRoot, `${output("graphStructured")}/attrs.json`).toString()).toContain('"ca":"fixed:r:sha256:');
  });

  test("passAsFile files and placeholders hold the real paths", () => {
    const paths = bytesIn(bunixRoot, `${output("passAsFile")}/paths`).toString();
    expect(paths).toMatch(/^\/build\/\.attr-[0-9a-z]{52} \/build\/\.attr-[0-9a-z]{52}\n\[\]\n$/);
    expect(bytesIn(bunixRoot, `${output("passAsFile")}/big`).toString()).toBe(`line1\nline2 ${output("passAsFile")}\n`);
    expect(bytesIn(bunixRoot, `${output("placeholders")}/from-args`).toString()).toBe(`${output("placeholders")}\n`);
    expect(bytesIn(bunixRoot, `${output("placeholders")}/dev-path`).toString()).toBe(`${output("placeholders", "dev")}\n`);
  });

  test("outputs referring to each other and to outputs they did not ask for", () => {
    const infos = bunixInfos;
    expect(infos.get(output("multi"))!.references).toEqual([output("multi", "dev")]);
    expect(infos.get(output("multi", "lib"))!.references).toEqual([output("multi")]);
    expect(infos.get(output("crossOutputs"))!.references.sort()).toEqual([output("multi"), output("multi", "dev"), output("multi", "lib")].sort());
    expect(infos.get(output("selfRef"))!.references).toEqual([output("selfRef")]);
    expect(infos.get(output("chain5"))!.references).toContain(output("chain4"));
  });

  test("canonical files: modes, mtimes, symlinks, unicode names; flat fixed outputs are non-executable files", () => {
    const tree = real(bunixRoot, output("tree"));
    const modes: Record<string, number> = {};
    const walk = (rel: string) => {
      const st = lstatSync(join(tree, rel));
      modes[rel] = st.mode & 0o7777;
      expect(st.mtimeMs).toBe(1000);
      if (st.isDirectory()) for (const name of readdirSync(join(tree, rel))) walk(rel === "" ? name : `${rel}/${name}`);
    };
    walk("");
    expect(modes).toMatchObject({ "": 0o555, run: 0o555, "héllo wörld ✓": 0o444, "dir/日本語.txt": 0o444, "dir/sub": 0o555, "dir/sub/emoji-😀": 0o444, empty: 0o555, "empty-file": 0o444 });
    expect(readlinkSync(join(tree, "link"))).toBe("héllo wörld ✓");
    expect(readlinkSync(join(tree, "dangling"))).toBe("/nonexistent/target");
    for (const attr of ["foFlatSha256", "foFlatSha1", "foFlatSha512"]) {
      const st = lstatSync(real(bunixRoot, output(attr)));
      expect(st.isFile()).toBe(true);
      expect(st.mode & 0o777).toBe(0o444);
    }
  });
});
