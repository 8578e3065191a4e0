/**
 * Shared pieces of the sandbox tests: throw-away stores into which real
 * nix-instantiate writes derivations (tests/sandbox/sandbox.nix and others),
 * bunix builds run asynchronously (so that servers the test runs keep
 * answering), and looks at the host's processes.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { removeTree } from "../../internal/nar/restore.ts";
import { bunixBinary, nixEnv, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

export const SANDBOX_NIX = join(import.meta.dir, "sandbox.nix");

export interface TestStore {
  /** Scratch directory holding everything (0755, so build users can pass). */
  dir: string;
  /** Where the store dir is on the host. */
  realStoreDir: string;
  /** Logical store dir (the paths' prefix). */
  storeDir: string;
  /** TMPDIR for builds: build directories appear here. */
  tmp: string;
  /** Environment for both real Nix and bunix. */
  env: Record<string, string>;
  /** Store arguments for both (["--store", root] or nothing). */
  storeArgs: string[];
  /** Host path of a store path. */
  real(path: string): string;
}

function make(label: string, direct: boolean): TestStore {
  const dir = scratchDir(label);
  chmodSync(dir, 0o755);
  const tmp = join(dir, "tmp");
  mkdirSync(tmp, { mode: 0o755 });
  chmodSync(tmp, 0o755);
  if (direct) {
    // Logical and physical store dirs coincide: builds need not be sandboxed.
    const storeDir = join(dir, "store");
    const env = nixEnv({ NIX_STORE_DIR: storeDir, NIX_STATE_DIR: join(dir, "state"), NIX_LOG_DIR: join(dir, "log"), TMPDIR: tmp });
    return { dir, realStoreDir: storeDir, storeDir, tmp, env, storeArgs: [], real: (p) => p };
  }
  const root = join(dir, "root");
  return {
    dir,
    realStoreDir: join(root, "nix/store"),
    storeDir: "/nix/store",
    tmp,
    env: nixEnv({ TMPDIR: tmp }),
    storeArgs: ["--store", root],
    real: (p) => join(root, p),
  };
}

/** A chroot store (`--store ROOT`): every build is sandboxed. */
export function chrootStore(label: string): TestStore {
  return make(label, false);
}

/** A store at NIX_STORE_DIR whose paths are real host paths: `sandbox = false` applies. */
export function directStore(label: string): TestStore {
  return make(label, true);
}

/**
 * Removes a test store at the end of its file (scratchDir's removal at exit
 * does not happen under `bun test`); BUNIX_KEEP_TMP keeps it.
 */
export function discard(store: TestStore | undefined): void {
  if (store && !process.env.BUNIX_KEEP_TMP) removeTree(store.dir);
}

/** Instantiates attributes of a Nix file with real Nix; returns the .drv paths in order. */
export function instantiate(store: TestStore, file: string, attrs: readonly string[], args: Record<string, string> = {}): string[] {
  const argv = ["nix-instantiate", ...store.storeArgs, file, ...attrs.flatMap((a) => ["-A", a])];
  for (const [name, value] of Object.entries(args)) argv.push("--argstr", name, value);
  return runOk(argv, { env: store.env }).toString().trim().split("\n");
}

/** Writes a Nix file into the store's scratch dir. */
export function nixFile(store: TestStore, name: string, text: string): string {
  const file = join(store.dir, name);
  writeFileSync(file, text);
  return file;
}

export interface BuildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `bunix build --no-out-link` with the store's arguments, without blocking the test's event loop. */
export async function bunixBuild(store: TestStore, args: readonly string[], env: Record<string, string> = {}): Promise<BuildResult> {
  const proc = Bun.spawn([bunixBinary(), "build", "--no-out-link", ...store.storeArgs, ...args], {
    env: { ...store.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Builds and fails the test with bunix's stderr unless it succeeded; returns the output paths. */
export async function buildOk(store: TestStore, args: readonly string[], env: Record<string, string> = {}): Promise<string[]> {
  const result = await bunixBuild(store, args, env);
  if (result.code !== 0) throw new Error(`bunix build ${args.join(" ")} exited ${result.code}:\n${result.stderr}`);
  return result.stdout.trim().split("\n");
}

/** Reads a file of a built output directory (trailing newline kept). */
export function observed(store: TestStore, output: string, name: string): string {
  return readFileSync(join(store.real(output), name), "utf8");
}

/** The first non-loopback IPv4 address of the host, or an address that routes nowhere. */
export function hostAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === "IPv4" && !address.internal) return address.address;
  }
  return "10.255.255.1";
}

/** Pids of host processes whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "latin1").includes(marker)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** A host process whose argv[0] is `marker` (bash's `exec -a`). */
export function startMarkerProcess(marker: string): { kill(): void } {
  const proc = Bun.spawn(["bash", "-c", `exec -a ${marker} sleep 1000`], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  return { kill: () => proc.kill(9) };
}

/** Waits (bounded) until a condition holds, for things that settle asynchronously. */
export async function eventually(condition: () => boolean, attempts = 50): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (condition()) return true;
    await Bun.sleep(20);
  }
  return condition();
}

/** Entries left in a directory whose names match `pattern`. */
export function leftovers(dir: string, pattern: RegExp): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((name) => pattern.test(name)) : [];
}

/** Real Nix's answer to `nix-store -q <flag> <paths>`. */
export function nixQuery(store: TestStore, flag: string, paths: readonly string[]): string[] {
  return runOk(["nix-store", ...store.storeArgs, "-q", flag, ...paths], { env: store.env }).toString().trim().split("\n").filter((l) => l !== "");
}
