/**
 * Real Nix 2.8 clients build through bunix's daemon: nix-build (which adds
 * the .drv files, asks what is missing, builds, and makes ./result links
 * the daemon registers as roots), nix-store -r, nix build --json, nix-store
 * -l and nix path-info. The outputs must be exactly those of real Nix
 * building the same expressions in a store with the same store directory;
 * a failing build must look the same to the user as with nix-daemon.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { encodeBase32 } from "../../internal/hash/base32.ts";
import { hashBytes } from "../../internal/hash/hasher.ts";
import { type RunResult, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { DRVS, normalise } from "./build-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

let daemon: TestDaemon;
let work: string;
let build: RunResult;
let reference: string;

const ATTRS = ["top", "multi.dev", "multi.out", "usesLib", "text"];

/** A local real-Nix store with the daemon's (logical) store directory, kept elsewhere on disk. */
function referenceStore(): string {
  return `local?store=${daemon.storeDir}&real=${reference}/store&state=${reference}/state&log=${reference}/log`;
}

interface PathInfoJson {
  path: string;
  narHash: string;
  narSize: number;
  references: string[];
  deriver?: string;
}

function pathInfos(env: Record<string, string>, storeArgs: string[], paths: string[]): PathInfoJson[] {
  const json = JSON.parse(runOk(["nix", "path-info", "--json", "--recursive", ...storeArgs, ...paths], { env }).toString()) as Array<PathInfoJson & { registrationTime?: number; ultimate?: boolean; signatures?: string[] }>;
  return json.map(({ path, narHash, narSize, references, deriver }) => ({ path, narHash, narSize, references, deriver })).sort((a, b) => (a.path < b.path ? -1 : 1));
}

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon();
  work = join(daemon.dir, "work");
  mkdirSync(work);
  build = run(["nix-build", DRVS, ...ATTRS.flatMap((a) => ["-A", a])], { env: daemon.clientEnv(), cwd: work });
  reference = scratchDir("daemon-reference");
  runOk(["nix-build", "--store", referenceStore(), "--no-out-link", DRVS, ...ATTRS.flatMap((a) => ["-A", a])], { env: daemon.localEnv() });
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
});

describe("nix-build through bunix's daemon", () => {
  test("succeeds and prints one output path per attribute", () => {
    if (build.code !== 0) throw new Error(`nix-build exited ${build.code}: ${build.stderr}`);
    const printed = build.stdout.toString().trim().split("\n");
    expect(printed).toHaveLength(ATTRS.length);
    for (const path of printed) expect(path.startsWith(`${daemon.storeDir}/`)).toBe(true);
  });

  test("the outputs are those real Nix builds: same paths, NAR hashes, sizes, references and derivers", () => {
    const outputs = build.stdout.toString().trim().split("\n");
    const ours = pathInfos(daemon.clientEnv(), [], outputs);
    const theirs = pathInfos(daemon.localEnv(), ["--store", referenceStore()], outputs);
    // top, mid, leaf, multi, multi-dev, uses-lib, text.
    expect(ours).toHaveLength(7);
    expect(ours).toEqual(theirs);
  });

  test("the builders' log lines reach the client's stderr", () => {
    for (const line of ["leaf-line", "mid-line", "top-line", "multi-line", "uses-lib-line", "text-line"]) expect(build.stderr).toContain(`${line}\n`);
    expect(build.stderr).toMatch(/these \d+ derivations will be built:/);
    expect(build.stderr).toContain(`building '${daemon.storeDir}/`);
  });

  test("./result links point at the outputs and are registered in gcroots/auto", () => {
    const outputs = build.stdout.toString().trim().split("\n");
    // nix-build's names: one number per derivation, outputs other than out as a suffix.
    const links = readdirSync(work).sort();
    expect(links).toEqual(["result", "result-2", "result-2-dev", "result-3", "result-4"]);
    expect(links.map((l) => readlinkSync(join(work, l))).sort()).toEqual([...outputs].sort());
    const auto = join(daemon.stateDir, "gcroots/auto");
    for (const link of links) {
      const absolute = join(work, link);
      const name = encodeBase32(hashBytes("sha1", absolute).digest);
      expect(readlinkSync(join(auto, name))).toBe(absolute);
    }
    expect(readdirSync(auto)).toHaveLength(links.length);
  });

  test("nix-store -l shows a derivation's build log", () => {
    const drv = runOk(["nix-store", "-q", "--deriver", readlinkSync(join(work, "result"))], { env: daemon.clientEnv() }).toString().trim();
    expect(runOk(["nix-store", "-l", drv], { env: daemon.clientEnv() }).toString()).toBe("top-line\n");
  });

  test("a second nix-build finds everything valid and builds nothing", () => {
    const again = run(["nix-build", DRVS, "--no-out-link", ...ATTRS.flatMap((a) => ["-A", a])], { env: daemon.clientEnv() });
    expect(again.code).toBe(0);
    expect(again.stdout.toString()).toBe(build.stdout.toString());
    expect(again.stderr).not.toContain("building '");
  });
});

describe("other clients", () => {
  test("nix-store -r D.drv builds and prints the output; nix path-info --json then knows it", () => {
    const drv = runOk(["nix-instantiate", DRVS, "-A", "trivial"], { env: daemon.clientEnv() }).toString().trim();
    const realised = run(["nix-store", "-r", drv], { env: daemon.clientEnv() });
    expect(realised.code).toBe(0);
    const out = realised.stdout.toString().trim();
    expect(out).toMatch(/-trivial$/);
    expect(realised.stderr).toContain("building trivial");
    const info = JSON.parse(runOk(["nix", "path-info", "--json", out], { env: daemon.clientEnv() }).toString()) as Array<{ path: string; deriver: string }>;
    expect(info[0]).toMatchObject({ path: out, deriver: drv });
  });

  test("nix build --json --no-link reports the built outputs (BuildPathsWithResults)", () => {
    const result = run(["nix", "build", "--json", "--no-link", "-f", DRVS, "bd", "dependent"], { env: daemon.clientEnv() });
    if (result.code !== 0) throw new Error(`nix build exited ${result.code}: ${result.stderr}`);
    const built = JSON.parse(result.stdout.toString()) as Array<{ drvPath: string; outputs: { out: string } }>;
    expect(built.map((b) => normalise(JSON.stringify(b))).sort()).toEqual([
      JSON.stringify({ drvPath: "STORE/bd.drv", outputs: { out: "STORE/bd" } }),
      JSON.stringify({ drvPath: "STORE/dependent.drv", outputs: { out: "STORE/dependent" } }),
    ]);
    for (const b of built) expect(existsSync(b.outputs.out)).toBe(true);
    expect(readFileSync(built.find((b) => b.drvPath.endsWith("-dependent.drv"))!.outputs.out, "utf8")).toMatch(/^got hello from /);
  });
});

describe("a failing build", () => {
  test("looks the same through bunix's daemon as through nix-daemon", async () => {
    const nixDaemon = await startDaemon("nix");
    try {
      const attempt = (d: TestDaemon) => run(["nix-build", DRVS, "-A", "dep", "--no-out-link"], { env: d.clientEnv() });
      const ours = attempt(daemon);
      const theirs = attempt(nixDaemon);
      expect(theirs.code).not.toBe(0);
      expect(ours.code).toBe(theirs.code);
      expect(ours.stdout.toString()).toBe("");
      expect(normalise(ours.stderr)).toBe(normalise(theirs.stderr));
      expect(ours.stderr).toContain("about to fail\n");
      expect(ours.stderr).toContain("failed with exit code 3;\n       last 1 log lines:\n       > about to fail\n");
      expect(ours.stderr).toContain("error: 1 dependencies of derivation");
    } finally {
      await nixDaemon.stop();
    }
  });
});
