// The compiled executable as users meet it: help, versions, exit codes,
// multi-call names, and independence from the directory it runs in.
import { beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, nixEnv, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

let bunix: string;
let dir: string;
// A private store: nothing here may ever touch the machine's /nix.
const env = () => ({ PATH: "/usr/bin:/bin", HOME: dir, NIX_STORE_DIR: join(dir, "store"), NIX_STATE_DIR: join(dir, "state"), NIX_LOG_DIR: join(dir, "log") });

beforeAll(() => {
  bunix = bunixBinary();
  dir = scratchDir("cli");
  mkdirSync(join(dir, "tree"));
  writeFileSync(join(dir, "tree", "hello"), "hello\n");
  for (const name of ["nix-store", "nix-hash", "nix-daemon"]) symlinkSync(bunix, join(dir, name));
});

describe("help and versions", () => {
  test("--version and --help", () => {
    expect(runOk([bunix, "--version"], { env: env() }).toString()).toMatch(/^bunix \d+\.\d+\.\d+ \(Nix 2\.8\.0 compatible\)\n$/);
    const help = runOk([bunix, "--help"], { env: env() }).toString();
    for (const command of ["hash", "nar", "store", "drv"]) expect(help).toContain(`  ${command} `);
  });
  test("every command has useful help", () => {
    const expectations: Record<string, string[]> = {
      hash: ["path <...paths>", "file <...paths>", "to-sri"],
      nar: ["dump <path>", "restore <path>", "ls <file> [path]", "cat <file> <path>"],
      store: ["add <...paths>"],
      drv: ["show <...drvs>", "path <...files>"],
    };
    for (const [command, words] of Object.entries(expectations)) {
      const help = runOk([bunix, command, "--help"], { env: env() }).toString();
      for (const word of words) expect(help).toContain(word);
    }
    expect(runOk([bunix, "hash", "path", "--help"], { env: env() }).toString()).toContain("--sri");
  });
  test("the aliases answer --version like Nix's tools", () => {
    expect(runOk([join(dir, "nix-store"), "--version"], { env: env() }).toString()).toBe("nix-store (bunix) 2.8.0\n");
    expect(runOk([join(dir, "nix-hash"), "--version"], { env: env() }).toString()).toBe("nix-hash (bunix) 2.8.0\n");
  });
});

describe("errors and exit codes", () => {
  test("usage errors exit 2 and point at help", () => {
    for (const argv of [["frobnicate"], ["nar", "frob"], ["hash", "path", "--bogus", "x"], ["hash", "path"], ["hash", "path", "--base16", "--sri", "x"], ["store", "add", "--dry-run", "--hash-algo", "blake3", "x"]]) {
      const result = run([bunix, ...argv], { env: env() });
      expect({ argv, code: result.code }).toEqual({ argv, code: 2 });
      expect(result.stderr).toStartWith("error: ");
      expect(result.stderr).toContain("--help");
    }
  });
  test("failed operations exit 1 with a message naming the input", () => {
    const missing = run([bunix, "hash", "path", join(dir, "missing")], { env: env() });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`error: getting status of '${join(dir, "missing")}': No such file or directory\n`);
    const bad = run([bunix, "nar", "restore", join(dir, "out-bad")], { env: env(), stdin: "not a nar at all, just text" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("bad NAR at byte 0");
    expect(existsSync(join(dir, "out-bad"))).toBe(false);
    const drv = run([bunix, "drv", "show", join(dir, "tree", "hello")], { env: env() });
    expect(drv.code).toBe(1);
    expect(drv.stderr).toContain("malformed derivation at byte 0");
  });
  test("a closed pipe ends the dump quietly", () => {
    const result = Bun.spawnSync(["bash", "-c", `'${bunix}' nar dump /usr/bin | head -c 100 > /dev/null; echo "\${PIPESTATUS[0]}"`], { env: env() });
    expect(result.stderr.toString()).toBe("");
    expect(["0", "141"]).toContain(result.stdout.toString().trim());
  });
});

describe("multi-call", () => {
  test("nix-store --dump / --restore through the symlink and the subcommand", () => {
    const nar = runOk([join(dir, "nix-store"), "--dump", join(dir, "tree")], { env: env() });
    expect(runOk(["nix-store", "--dump", join(dir, "tree")], { env: nixEnv() }).equals(nar)).toBe(true);
    runOk([join(dir, "nix-store"), "--restore", join(dir, "restored")], { env: env(), stdin: nar });
    expect(runOk([bunix, "nix-store", "--dump", join(dir, "restored")], { env: env() }).equals(nar)).toBe(true);
  });
  test("nix-hash flags", () => {
    const args = ["--type", "sha256", "--base32", join(dir, "tree")];
    expect(runOk([join(dir, "nix-hash"), ...args], { env: env() }).toString()).toBe(runOk(["nix-hash", ...args], { env: nixEnv() }).toString());
    expect(runOk([bunix, "nix-hash", "--flat", join(dir, "tree", "hello")], { env: env() }).toString()).toBe("b1946ac92492d2347c6235b4d2611184\n");
  });
  test("unknown flags and unimplemented operations are refused clearly", () => {
    // As in Nix: without an operation the flag is not even looked at; with one, it is refused.
    const unknown = run([join(dir, "nix-store"), "--frob"], { env: env() });
    expect(unknown.stderr).toStartWith("error: no operation specified");
    const unknownForOp = run([join(dir, "nix-store"), "--add", "--frob", "x"], { env: env() });
    expect(unknownForOp.stderr).toStartWith("error: unknown flag '--frob'");
    // An operation that touches no store (--gc is implemented now and would collect /nix/store).
    const later = run([join(dir, "nix-store"), "--print-env"], { env: env() });
    expect(later.code).not.toBe(0);
    expect(later.stderr).toContain("does not implement 'nix-store --print-env' yet");
    const daemonFlag = run([join(dir, "nix-daemon"), "--frob"], { env: env() });
    expect(daemonFlag.code).toBe(2);
    expect(daemonFlag.stderr).toContain("unrecognised flag '--frob'");
  });
  test("grouped short flags and --option use-case-hack are understood", () => {
    mkdirSync(join(dir, "case"));
    writeFileSync(join(dir, "case", "a~nix~case~hack~1"), "x");
    const ours = runOk([join(dir, "nix-store"), "--option", "use-case-hack", "true", "--dump", join(dir, "case")], { env: env() });
    const nix = runOk(["nix-store", "--option", "use-case-hack", "true", "--dump", join(dir, "case")], { env: nixEnv() });
    expect(ours.equals(nix)).toBe(true);
  });
});

describe("the binary stands alone", () => {
  test("it runs without bun or node_modules on PATH, from anywhere", () => {
    const lonely = join(dir, "lonely");
    mkdirSync(lonely);
    copyFileSync(bunix, join(lonely, "bunix"));
    const result = run([join(lonely, "bunix"), "hash", "file", "--type", "md5", "--base16", join(dir, "tree", "hello")], { env: { PATH: lonely, HOME: lonely }, cwd: lonely });
    expect(result.stdout.toString()).toBe("b1946ac92492d2347c6235b4d2611184\n");
  });
  test("it never reads bunfig.toml or .env from the directory it runs in", () => {
    const trap = join(dir, "trap");
    mkdirSync(trap);
    writeFileSync(join(trap, "evil.ts"), `require("node:fs").writeFileSync(${JSON.stringify(join(trap, "preloaded"))}, "yes");`);
    writeFileSync(join(trap, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
    writeFileSync(join(trap, ".env"), "NIX_STORE_DIR=/evil/store\n");
    const out = runOk([bunix, "store", "add", "--dry-run", join(dir, "tree", "hello")], { env: env(), cwd: trap }).toString();
    expect(out).toStartWith(`${join(dir, "store")}/`);
    expect(existsSync(join(trap, "preloaded"))).toBe(false);
    expect(readFileSync(join(trap, ".env"), "utf8")).toContain("evil");
  });
});
