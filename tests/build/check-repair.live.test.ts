/**
 * `bunix build --check` and `--repair` (and `nix-store -r --check/--repair`
 * through the alias): a derivation writing the time is found
 * non-deterministic (exit 104, Nix's message naming the output), a
 * deterministic one passes; corrupt outputs are rebuilt and real Nix then
 * finds the store clean, intact ones are left alone, and repairing a
 * non-deterministic build ends after one build. Builders count their runs in
 * a host directory bound into the sandbox.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, requireNix } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { bunix, bunixOk, expectVerifies, instantiate, nixStore, nixStoreOk, real } from "./live.ts";

let root: string;
let counter: string;
let drvs: Map<string, string>;
const out = new Map<string, string>();

const withCounter = (argv: string[]) => [...argv, "--option", "extra-sandbox-paths", `/counter=${counter}`];
const build = (...argv: string[]) => bunix(withCounter(["build", "--store", root, "--no-out-link", ...argv]));
const runs = (name: string) => (existsSync(join(counter, name)) ? readFileSync(join(counter, name), "utf8").split("\n").filter((l) => l !== "").length : 0);
const hashOf = (path: string) => nixStoreOk(root, ["-q", "--hash", path]).trim();

/** Changes one byte of a file in the store the way an accident would: mode restored afterwards. */
function corrupt(file: string): void {
  chmodSync(file, 0o644);
  const bytes = readFileSync(file);
  bytes[0] = bytes[0]! ^ 0x20;
  writeFileSync(file, bytes);
  chmodSync(file, 0o444);
}

beforeAll(() => {
  requireNix();
  bunixBinary();
  const dir = scratchDir("build-check");
  root = join(dir, "store");
  counter = join(dir, "counter");
  mkdirSync(counter);
  chmodSync(counter, 0o777);
  drvs = instantiate(root, "cases.nix", ["clock", "steady", "steadyUser"]);
  for (const [attr, drv] of drvs) out.set(attr, bunixOk(withCounter(["build", "--store", root, "--no-out-link", drv])).trim());
});

describe("--check", () => {
  test("a deterministic build passes and changes nothing", () => {
    const before = hashOf(out.get("steady")!);
    const result = build("--check", drvs.get("steady")!);
    expect(result.stderr).not.toContain("error");
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(`${out.get("steady")}\n`);
    expect(hashOf(out.get("steady")!)).toBe(before);
  });

  test("a build writing the time fails with 104, naming the output; the registered output stays", () => {
    const clock = out.get("clock")!;
    const before = hashOf(clock);
    const contents = readFileSync(real(root, clock), "utf8");
    const runsBefore = runs("clock");
    const result = build("--check", drvs.get("clock")!);
    expect(result.code).toBe(104);
    expect(result.stderr).toContain(`error: derivation '${drvs.get("clock")}' may not be deterministic: output '${real(root, clock)}' differs\n`);
    expect(runs("clock")).toBe(runsBefore + 1);
    expect(hashOf(clock)).toBe(before);
    expect(readFileSync(real(root, clock), "utf8")).toBe(contents);
    expect(readdirSync(join(root, "nix/store")).filter((n) => n.endsWith(".chroot") || n.includes(".check"))).toEqual([]);
    expectVerifies(root);
  });

  test("real Nix says the same of the same derivation", () => {
    const nixRoot = join(root, "..", "nix");
    const drv = instantiate(nixRoot, "cases.nix", ["clock"]).get("clock")!;
    expect(drv).toBe(drvs.get("clock")!);
    nixStoreOk(nixRoot, withCounter(["-r", drv]));
    const nix = nixStore(nixRoot, withCounter(["-r", "--check", drv]));
    expect(nix.code).toBe(104);
    expect(nix.stderr).toContain(`error: derivation '${drv}' may not be deterministic: output '${real(nixRoot, out.get("clock")!)}' differs\n`);
  });

  test("nix-store -r --check through the alias", () => {
    const clock = bunix(withCounter(["nix-store", "--store", root, "-r", "--check", drvs.get("clock")!]));
    expect(clock.code).toBe(104);
    expect(clock.stderr).toContain("may not be deterministic");
    const steady = bunix(withCounter(["nix-store", "--store", root, "-r", "--check", drvs.get("steady")!]));
    expect(steady.code).toBe(0);
    expect(steady.stdout.toString()).toBe(`${out.get("steady")}\n`);
  });

  test("checking outputs that are not valid is an error, as in Nix", () => {
    const fresh = instantiate(root, "cases.nix", ["steady"], ["--argstr", "nonce", "unbuilt"]).get("steady")!;
    const result = build("--check", fresh);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`some outputs of '${fresh}' are not valid, so checking is not possible`);
  });
});

describe("--repair", () => {
  test("a corrupt output is rebuilt and real Nix finds the store clean", () => {
    const steady = out.get("steady")!;
    const file = join(real(root, steady), "file");
    corrupt(file);
    const broken = nixStore(root, ["--verify", "--check-contents"]);
    expect(broken.stderr).toContain(`path '${steady}' was modified!`);
    const result = build("--repair", drvs.get("steady")!);
    expect(result.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe("steady\n");
    expectVerifies(root);
  });

  test("intact outputs are not rebuilt", () => {
    const before = runs("clock");
    const hash = hashOf(out.get("clock")!);
    expect(build("--repair", drvs.get("clock")!).code).toBe(0);
    expect(runs("clock")).toBe(before);
    expect(hashOf(out.get("clock")!)).toBe(hash);
  });

  test("a corrupt path in the closure of a target is rebuilt by its derivation", () => {
    const file = join(real(root, out.get("steady")!), "file");
    corrupt(file);
    const result = build("--repair", drvs.get("steadyUser")!);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`building '${drvs.get("steady")}'`);
    expect(readFileSync(file, "utf8")).toBe("steady\n");
    expectVerifies(root);
  });

  test("a non-deterministic build is repaired with one build, and the store verifies afterwards", () => {
    const clock = out.get("clock")!;
    corrupt(real(root, clock));
    const before = runs("clock");
    const result = build("--repair", drvs.get("clock")!);
    expect(result.code).toBe(0);
    expect(runs("clock")).toBe(before + 1);
    expectVerifies(root);
  });

  test("nix-store -r --repair through the alias", () => {
    const file = join(real(root, out.get("steady")!), "file");
    corrupt(file);
    const result = bunix(withCounter(["nix-store", "--store", root, "-r", "--repair", drvs.get("steady")!]));
    expect(result.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe("steady\n");
    expectVerifies(root);
  });
});
