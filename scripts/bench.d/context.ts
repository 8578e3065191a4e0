/**
 * What every suite runs in: the tools, a work dir that is cleaned up at the
 * end, and an environment that keeps Nix away from /nix and the user's config.
 */
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync, rmdirSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { BenchFailure, log } from "./log.ts";
import { type Tools, gnuTimeOutput } from "./measure.ts";

export interface ToolPaths {
  bunix: string;
  nixStore: string;
  nixHash: string;
}

/** dist/bunix of the repository at `repo`, and nix-store/nix-hash from PATH. */
export function findTools(repo: string): ToolPaths {
  const bunix = join(repo, "dist", "bunix");
  if (!existsSync(bunix)) throw new BenchFailure(`${bunix} is missing: run 'bash scripts/build' (or use scripts/bench, which does)`);
  const nixStore = Bun.which("nix-store");
  const nixHash = Bun.which("nix-hash");
  if (nixStore === null || nixHash === null) throw new BenchFailure("nix-store and nix-hash must be on PATH");
  return { bunix, nixStore, nixHash };
}

/** Work-dir entries holding the environment of isolatedEnvironment(). */
const ENVIRONMENT_ENTRIES = ["home", "nix-conf", "nix-state", "nix-log", "xdg", "tmp"];

export interface WorkDir {
  path: string;
  /** Removes what the benchmark made (all of a dir it created); nothing with --keep. */
  cleanup(): void;
}

/**
 * $BUNIX_BENCH_DIR, or a fresh dir under /tmp. In a dir that existed before,
 * cleanup removes only the environment and `suiteEntries`, and then the dir
 * if that left it empty.
 */
export function openWorkDir(keep: boolean, suiteEntries: readonly string[]): WorkDir {
  const fromEnv = process.env["BUNIX_BENCH_DIR"];
  let path: string;
  let isOurs: boolean;
  if (fromEnv !== undefined && fromEnv !== "") {
    path = resolve(fromEnv);
    isOurs = !existsSync(path);
    mkdirSync(path, { recursive: true });
  } else {
    path = mkdtempSync("/tmp/bunix-bench.");
    isOurs = true;
  }
  const cleanup = () => {
    if (keep) {
      log(`kept work dir ${path}`);
      return;
    }
    if (isOurs) rmSync(path, { recursive: true, force: true });
    else {
      for (const entry of [...suiteEntries, ...ENVIRONMENT_ENTRIES]) rmSync(join(path, entry), { recursive: true, force: true });
      try {
        rmdirSync(path);
      } catch {
        // not empty: it holds things that are not ours
      }
    }
  };
  return { path, cleanup };
}

/** The tools with an environment of their own under `work`, /dev/null open, GNU time found. */
export function isolatedTools(paths: ToolPaths, work: string): Tools {
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: join(work, "home"),
    NIX_CONF_DIR: join(work, "nix-conf"),
    NIX_STATE_DIR: join(work, "nix-state"),
    NIX_LOG_DIR: join(work, "nix-log"),
    XDG_CONFIG_HOME: join(work, "xdg", "config"),
    XDG_CACHE_HOME: join(work, "xdg", "cache"),
    XDG_DATA_HOME: join(work, "xdg", "data"),
    XDG_STATE_HOME: join(work, "xdg", "state"),
    TMPDIR: join(work, "tmp"),
    LC_ALL: "C",
  };
  for (const key of ["HOME", "NIX_CONF_DIR", "NIX_STATE_DIR", "NIX_LOG_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "TMPDIR"]) {
    mkdirSync(env[key]!, { recursive: true });
  }
  const devNull = openSync("/dev/null", "w");
  return { nixStore: paths.nixStore, nixHash: paths.nixHash, bunix: paths.bunix, env, devNull, timeOutput: gnuTimeOutput(env["TMPDIR"]!) };
}

/** Versions and machine, for the report header and the JSON line. */
export interface Setup {
  versions: { nix: string; bunix: string; bun: string };
  machine: { cpu: string; cores: number };
}

function toolVersion(argv: readonly string[]): string {
  const result = Bun.spawnSync([...argv], { stdout: "pipe", stderr: "pipe" });
  return result.stdout ? result.stdout.toString().trim() : "?";
}

export function describeSetup(tools: Tools): Setup {
  const versions = {
    nix: toolVersion([tools.nixStore, "--version"]),
    bunix: toolVersion([tools.bunix, "--version"]),
    bun: Bun.version,
  };
  const cpuList = cpus();
  const machine = { cpu: cpuList[0]?.model ?? "?", cores: cpuList.length };
  log(`${versions.nix}; ${versions.bunix}; bun ${versions.bun}; ${machine.cores} x ${machine.cpu}`);
  return { versions, machine };
}
