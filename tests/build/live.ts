/**
 * Shared by the live build tests: instantiate derivations from the .nix
 * files beside this one into a throw-away store with real nix-instantiate,
 * build with bunix or real Nix, and read what each store recorded (through
 * real Nix's own queries, so bunix's database is read by the oracle).
 */
import { join } from "node:path";
import { BUNIX, type RunResult, nixEnv, run, runOk } from "../helpers/nix.ts";

export const BUILD_TESTS = import.meta.dir;

/** The environment of every build: real Nix's test configuration, plus a variable for impureEnvVars. */
export function buildEnv(extra: Record<string, string> = {}): Record<string, string> {
  return nixEnv({ SPEC_IMPURE: "impure-value", ...extra });
}

/** nix-instantiate of `attrs` from `file` (a name in tests/build) into `root`: attr -> .drv path. */
export function instantiate(root: string, file: string, attrs: readonly string[], args: readonly string[] = []): Map<string, string> {
  const argv = ["nix-instantiate", "--store", root, join(BUILD_TESTS, file), ...args, ...attrs.flatMap((a) => ["-A", a])];
  const lines = runOk(argv, { env: buildEnv() }).toString().trim().split("\n");
  if (lines.length !== attrs.length) throw new Error(`nix-instantiate gave ${lines.length} paths for ${attrs.length} attributes`);
  return new Map(attrs.map((a, i) => [a, lines[i]!]));
}

export function bunix(argv: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): RunResult {
  return run([BUNIX, ...argv], { env: options.env ?? buildEnv(), cwd: options.cwd });
}

export function bunixOk(argv: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): string {
  const result = bunix(argv, options);
  if (result.code !== 0) throw new Error(`bunix ${argv.join(" ")} exited ${result.code}: ${result.stderr}`);
  return result.stdout.toString();
}

/** Real nix-store against a throw-away store. */
export function nixStore(root: string, argv: readonly string[]): RunResult {
  return run(["nix-store", "--store", root, ...argv], { env: buildEnv() });
}

export function nixStoreOk(root: string, argv: readonly string[]): string {
  return runOk(["nix-store", "--store", root, ...argv], { env: buildEnv() }).toString();
}

/** Output paths of derivations, as real Nix reads them from the .drv files. */
export function outputsOf(root: string, drvs: readonly string[]): string[] {
  return nixStoreOk(root, ["-q", "--outputs", ...drvs]).trim().split("\n");
}

export interface RecordedInfo {
  path: string;
  narHash: string;
  narSize: number;
  references: string[];
  deriver?: string;
  ca?: string;
  ultimate?: boolean;
}

/** What a store recorded about paths (real `nix path-info --json`), without registration times. */
export function pathInfos(root: string, paths: readonly string[]): Map<string, RecordedInfo> {
  const json = JSON.parse(runOk(["nix", "--store", root, "path-info", "--json", ...paths], { env: buildEnv() }).toString()) as Array<RecordedInfo & { registrationTime?: number }>;
  return new Map(json.map(({ registrationTime: _, ...info }) => [info.path, info]));
}

/** `nix-store --verify --check-contents` by real Nix: no complaints. */
export function expectVerifies(root: string): void {
  const result = nixStore(root, ["--verify", "--check-contents"]);
  const complaints = result.stderr.split("\n").filter((l) => l !== "" && !/^(reading the Nix store|checking path existence|checking link hashes|checking store hashes)\.\.\.$/.test(l));
  if (result.code !== 0 || complaints.length > 0) throw new Error(`nix-store --verify --check-contents on ${root} (exit ${result.code}):\n${result.stderr}`);
}

/** Where a store path of a throw-away store is on disk. */
export function real(root: string, storePath: string): string {
  return join(root, storePath);
}
