/**
 * Real Nix 2.8 clients add content through bunix's daemon and get what real
 * Nix gets locally: the same paths from nix-store --add / --add-fixed and
 * nix-instantiate (AddToStore framed, AddToStoreNar), a store that real
 * `nix-store --verify --check-contents` finds clean, and the same
 * `nix path-info --json` through the daemon as locally.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "../helpers/nix-expr.ts";
import { requireNix, run, runOk } from "../helpers/nix.ts";
import { Random } from "../helpers/random.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

let daemon: TestDaemon;
let dir: string;
/** A chroot store for real Nix working locally, with the daemon's logical store dir. */
let oracleRoot: string;
const added: string[] = [];

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon();
  dir = scratchDir("daemon-add");
  oracleRoot = join(dir, "oracle");
  writeFileSync(join(dir, "hello.txt"), "hello from a client\n");
  writeFileSync(join(dir, "script.sh"), "#!/bin/sh\necho hi\n");
  chmodSync(join(dir, "script.sh"), 0o755);
  writeFileSync(join(dir, "empty"), "");
  const tree = join(dir, "tree");
  mkdirSync(join(tree, "sub/deeper"), { recursive: true });
  mkdirSync(join(tree, "empty-dir"));
  writeFileSync(join(tree, "a.txt"), "a\n");
  writeFileSync(join(tree, "sub/b.bin"), Buffer.from([...Array(300)].map((_, i) => i & 0xff)));
  writeFileSync(join(tree, "sub/deeper/run"), "#!/bin/sh\n");
  chmodSync(join(tree, "sub/deeper/run"), 0o755);
  symlinkSync("../a.txt", join(tree, "sub/link"));
  symlinkSync("/nonexistent/target", join(tree, "dangling"));
});

afterAll(async () => {
  await daemon?.stop();
});

/** The same command through the daemon and with real Nix on its own chroot store. */
function both(argv: string[]): { daemon: string; local: string } {
  const viaDaemon = runOk(argv, { env: daemon.clientEnv() }).toString();
  const local = runOk([argv[0]!, "--store", oracleRoot, ...argv.slice(1)], { env: daemon.clientEnv({ NIX_REMOTE: "" }) }).toString();
  return { daemon: viaDaemon, local };
}

describe("nix-store --add / --add-fixed through the daemon", () => {
  const cases: Array<[string, string[]]> = [
    ["--add a file", ["--add", "hello.txt"]],
    ["--add an executable and an empty file", ["--add", "script.sh", "empty"]],
    ["--add a tree", ["--add", "tree"]],
    ["--add-fixed sha256 (flat)", ["--add-fixed", "sha256", "hello.txt", "script.sh"]],
    ["--add-fixed sha1, md5, sha512 (flat)", ["--add-fixed", "sha1", "hello.txt"]],
    ["--add-fixed md5 (flat)", ["--add-fixed", "md5", "empty"]],
    ["--add-fixed sha512 (flat)", ["--add-fixed", "sha512", "hello.txt"]],
    ["--add-fixed --recursive sha256 (tree)", ["--add-fixed", "--recursive", "sha256", "tree"]],
    ["--add-fixed --recursive sha1 (tree)", ["--add-fixed", "--recursive", "sha1", "tree"]],
    ["--add-fixed --recursive sha512 (file)", ["--add-fixed", "--recursive", "sha512", "script.sh"]],
    ["--add-fixed --recursive md5 (file)", ["--add-fixed", "--recursive", "md5", "hello.txt"]],
  ];
  for (const [title, args] of cases) {
    test(title, () => {
      const [op, ...rest] = args;
      const flags = rest.filter((a) => a.startsWith("-") || ["sha256", "sha1", "md5", "sha512"].includes(a));
      const files = rest.filter((a) => !flags.includes(a)).map((f) => join(dir, f));
      const { daemon: remote, local } = both(["nix-store", op!, ...flags, ...files]);
      expect(remote).toBe(local);
      added.push(...remote.trim().split("\n"));
    });
  }

  test("adding the same content again gives the same path", () => {
    const again = runOk(["nix-store", "--add", join(dir, "hello.txt")], { env: daemon.clientEnv() }).toString().trim();
    expect(added).toContain(again);
  });

  test("real nix-store --verify --check-contents finds the store clean", () => {
    const result = run(["nix-store", "--verify", "--check-contents"], { env: daemon.localEnv() });
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/error|warning|modified|invalid/i);
  });

  test("nix path-info --json is the same through the daemon as locally", () => {
    const paths = [...new Set(added)].sort();
    const args = ["nix", "path-info", "--json", ...paths];
    const local = JSON.parse(runOk(args, { env: daemon.localEnv() }).toString());
    const remote = JSON.parse(runOk([...args, "--store", `unix://${daemon.socket}`], { env: daemon.clientEnv() }).toString());
    expect(remote).toEqual(local);
    expect(local.length).toBe(paths.length);
  });
});

describe("nix-instantiate through the daemon (AddToStore text:sha256, sources)", () => {
  test("gives the same .drv paths as real Nix locally", () => {
    writeFileSync(join(dir, "expr-src"), "a source file copied into the store\n");
    const { body, names } = generate(new Random(7), 12);
    writeFileSync(join(dir, "drvs.nix"), `rec {\n${body}\n}\n`);
    const args = ["nix-instantiate", join(dir, "drvs.nix"), ...names.flatMap((n) => ["-A", n])];
    const { daemon: remote, local } = both(args);
    expect(remote.trim().split("\n").length).toBe(names.length);
    expect(remote).toBe(local);
    // The .drv files were registered with their outputs (real Nix reads the daemon's database).
    const drv = remote.split("\n").find((l) => l.endsWith("-chain5.drv"))!;
    const outputs = runOk(["nix-store", "-q", "--outputs", drv], { env: daemon.localEnv() }).toString();
    expect(outputs).toBe(runOk(["nix-store", "--store", oracleRoot, "-q", "--outputs", drv], { env: daemon.clientEnv({ NIX_REMOTE: "" }) }).toString());
  });

  test("the store is still clean for real Nix", () => {
    const result = run(["nix-store", "--verify", "--check-contents"], { env: daemon.localEnv() });
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/error|warning|modified|invalid/i);
  });
});
