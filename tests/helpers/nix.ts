/**
 * Running real Nix 2.8 (the oracle) and the bunix binary in tests. Nix gets a
 * private HOME and NIX_CONF_DIR, and every store it writes is a throw-away
 * `--store` root: the machine's own /nix is never touched.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createHasher } from "../../internal/hash/hasher.ts";
import { scratchDir } from "./tmp.ts";

export const PROJECT = resolve(import.meta.dir, "../..");
/** The binary under test; BUNIX_TEST_BINARY picks another file (parallel work on one tree). */
export const BUNIX = process.env.BUNIX_TEST_BINARY ?? join(PROJECT, "dist/bunix");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

let built = false;
/** The compiled binary; (re)built on first use when missing or older than the sources. */
export function bunixBinary(): string {
  const stale = () => {
    if (!existsSync(BUNIX)) return true;
    const binary = statSync(BUNIX).mtimeMs;
    return ["cmd", "internal", "ffi"].some((d) => existsSync(join(PROJECT, d)) && newestSource(join(PROJECT, d)) > binary);
  };
  if (!built && stale()) {
    const result = Bun.spawnSync(["bash", join(PROJECT, "scripts/build"), BUNIX], { stdout: "inherit", stderr: "inherit" });
    if (result.exitCode !== 0) throw new Error("scripts/build failed");
  }
  built = true;
  return BUNIX;
}

let nixHome: string | undefined;
/** Environment for real Nix: private HOME/config, no daemon, no substituters. */
export function nixEnv(extra: Record<string, string> = {}): Record<string, string> {
  if (nixHome === undefined) {
    nixHome = scratchDir("nix-home");
    mkdirSync(join(nixHome, "conf"));
    writeFileSync(
      join(nixHome, "conf/nix.conf"),
      "substituters =\nbuild-users-group =\nsandbox-paths = /bin/sh=/bin/busybox\nexperimental-features = nix-command\n",
    );
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: nixHome,
    XDG_CACHE_HOME: join(nixHome, "cache"),
    XDG_CONFIG_HOME: join(nixHome, "config"),
    NIX_CONF_DIR: join(nixHome, "conf"),
    // Machine-wide state (build user locks) stays out of the host's /nix/var/nix.
    NIX_STATE_DIR: join(nixHome, "state"),
    NIX_REMOTE: "",
    ...extra,
  };
  return env;
}

export function requireNix(): void {
  const result = Bun.spawnSync(["nix-store", "--version"], { env: nixEnv() });
  const version = result.stdout.toString();
  if (result.exitCode !== 0 || !version.includes("2.8")) {
    throw new Error(`real Nix 2.8 is needed for this test (install Debian's nix-bin; bash scripts/test does); got: ${version || result.stderr.toString()}`);
  }
}

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export function run(argv: string[], options: { env?: Record<string, string>; stdin?: Uint8Array | string; cwd?: string } = {}): RunResult {
  const result = Bun.spawnSync(argv, {
    env: options.env ?? nixEnv(),
    stdin: options.stdin === undefined ? "ignore" : Buffer.from(options.stdin),
    cwd: options.cwd,
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: result.exitCode ?? -1, stdout: Buffer.from(result.stdout), stderr: result.stderr.toString() };
}

/** Like run, but fails the test with the command's stderr when it exits non-zero. */
export function runOk(argv: string[], options?: Parameters<typeof run>[1]): Buffer {
  const result = run(argv, options);
  if (result.code !== 0) throw new Error(`${describe(argv)} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** SHA-256 and length of a command's stdout, streamed (for outputs of hundreds of MB). */
export async function runDigest(argv: string[], env?: Record<string, string>): Promise<{ sha256: string; size: number }> {
  const proc = Bun.spawn(argv, { env: env ?? nixEnv(), stdout: "pipe", stderr: "pipe" });
  const hasher = createHasher("sha256");
  let size = 0;
  for await (const chunk of proc.stdout) {
    hasher.update(chunk);
    size += chunk.length;
  }
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${describe(argv)} exited ${code}: ${await new Response(proc.stderr).text()}`);
  return { sha256: hasher.finish().base16, size };
}

/** A command line short enough for an error message. */
export function describe(argv: readonly string[]): string {
  return argv.length <= 8 ? argv.join(" ") : `${argv.slice(0, 8).join(" ")} ... (${argv.length - 8} more)`;
}
