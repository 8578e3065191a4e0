/**
 * Builds that must fail, in bunix exactly as in real Nix: reference
 * constraints violated (legacy and structured), fixed-output hash mismatches
 * (the hashes named in SRI), a flat fixed output that is a directory or
 * executable, an output not produced, a builder's exit code. The same
 * message and exit status from both; nothing registered, the store clean.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, requireNix } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { buildEnv, bunix, expectVerifies, instantiate, nixStore, outputsOf } from "./live.ts";

const CASES: Array<[string, RegExp]> = [
  ["allowedViolated", /is not allowed to refer to the following paths:/],
  ["disallowedReqViolated", /is not allowed to refer to the following paths:/],
  ["structuredViolated", /is not allowed to refer to the following paths:/],
  ["hashMismatch", /hash mismatch in fixed-output derivation '.*':\n {9}specified: sha256-\S+=\n {12}got: {4}sha256-\S+=/],
  ["hashMismatchRecursive", /hash mismatch in fixed-output derivation '.*':\n {9}specified: sha512-\S+\n {12}got: {4}sha512-\S+/],
  ["flatDirectory", /should be a non-executable regular file since recursive hashing is not enabled \(outputHashMode=flat\)/],
  ["flatExecutable", /should be a non-executable regular file since recursive hashing is not enabled/],
  ["missingOutput", /failed to produce output path for output 'dev' at '/],
  ["exitCode", /failed with exit code 3/],
];

let dir: string;
let bunixRoot: string;
let nixRoot: string;
let drvs: Map<string, string>;
/** bunix's TMPDIR, where build directories go. */
let tmp: string;

beforeAll(() => {
  requireNix();
  bunixBinary();
  dir = scratchDir("build-failures");
  bunixRoot = join(dir, "bunix");
  nixRoot = join(dir, "nix");
  tmp = join(dir, "tmp");
  mkdirSync(tmp);
  const attrs = CASES.map(([a]) => a);
  drvs = instantiate(bunixRoot, "cases.nix", attrs);
  const nixDrvs = instantiate(nixRoot, "cases.nix", attrs);
  for (const [attr, drv] of drvs) if (nixDrvs.get(attr) !== drv) throw new Error(`${attr}: different .drv in the two stores`);
});

/** Nix's error message: from its "error: " line up to the next "error: " (its "build of ... failed" summary). */
function errorBlock(stderr: string): string {
  const start = stderr.indexOf("error: ");
  if (start < 0) return "";
  const next = stderr.indexOf("\nerror: ", start);
  return stderr.slice(start, next < 0 ? undefined : next).trimEnd();
}

describe("builds that fail in bunix as in Nix", () => {
  test.each(CASES)("%s", (attr, pattern) => {
    const drv = drvs.get(attr)!;
    const nix = nixStore(nixRoot, ["-r", drv]);
    const ours = bunix(["build", "--store", bunixRoot, "--no-out-link", drv], { env: buildEnv({ TMPDIR: tmp }) });
    expect(nix.code).not.toBe(0);
    expect(ours.code).toBe(nix.code);
    const nixMessage = errorBlock(nix.stderr);
    expect(nixMessage).toMatch(pattern);
    // The same text (paths inside the two chroots differ only by the store root).
    expect(ours.stderr).toContain(nixMessage.replaceAll(nixRoot, bunixRoot));
    expect(ours.stdout.toString()).toBe("");
    for (const output of outputsOf(bunixRoot, [drv])) {
      expect(nixStore(bunixRoot, ["-q", "--hash", output]).code).not.toBe(0);
      expect(existsSync(join(bunixRoot, output))).toBe(false);
    }
  });

  test("exit statuses are Nix's: 100 for a builder, 102 for a hash mismatch, 1 for rejected outputs", () => {
    const status = (attr: string) => bunix(["build", "--store", bunixRoot, "--no-out-link", drvs.get(attr)!]).code;
    expect(status("exitCode")).toBe(100);
    expect(status("hashMismatch")).toBe(102);
    expect(status("allowedViolated")).toBe(1);
    expect(status("missingOutput")).toBe(1);
  });

  test("nothing is left behind and the store verifies", () => {
    // (Lock files of failed outputs stay, as with Nix.)
    expect(readdirSync(join(bunixRoot, "nix/store")).filter((n) => n.endsWith(".chroot") || n.endsWith(".check"))).toEqual([]);
    expect(readdirSync(tmp).filter((n) => n.startsWith("nix-build-"))).toEqual([]);
    expectVerifies(bunixRoot);
  });
});
