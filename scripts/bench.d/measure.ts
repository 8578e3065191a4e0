/**
 * Measuring commands: wall and CPU time (median of N runs after one warm-up,
 * the two tools interleaved), peak memory, digests of stdout, and timing of
 * in-process functions.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BenchFailure, log } from "./log.ts";
import { round } from "./units.ts";

/** The tools under comparison and how their commands are started. */
export interface Tools {
  nixStore: string;
  nixHash: string;
  bunix: string;
  /** Keeps Nix away from /nix and the user's config. */
  env: Record<string, string>;
  devNull: number;
  /** Where GNU time writes max RSS; undefined without /usr/bin/time. */
  timeOutput: string | undefined;
}

/** Where a command's stdout goes: discarded, through `| cat`, or kept to compare. */
export type Sink = "devnull" | "pipe" | "capture";

export interface Sample {
  ms: number;
  cpuMs: number;
  stdout: string;
}

/** A command run to completion with its output captured; failing unless it exits 0. */
export interface CommandRun extends Sample {
  stderr: string;
}

export function runTimed(tools: Tools, argv: readonly string[]): CommandRun {
  const start = performance.now();
  const result = Bun.spawnSync([...argv], { env: tools.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - start;
  const stderr = result.stderr ? result.stderr.toString() : "";
  if (result.exitCode !== 0) {
    const shown = argv.length > 8 ? [...argv.slice(0, 8), `... (${argv.length - 8} more)`] : argv;
    throw new BenchFailure(`'${shown.join(" ")}' exited with ${result.exitCode ?? result.signalCode}: ${stderr.trim().slice(-2000)}`);
  }
  return { ms, cpuMs: Number(result.resourceUsage.cpuTime.total) / 1000, stdout: result.stdout ? result.stdout.toString() : "", stderr };
}

/** One tool's figures for one operation. */
export interface Side {
  medianMs: number;
  minMs: number;
  samplesMs: number[];
  medianCpuMs: number;
  output?: string;
}

/** One operation timed on both tools: a row of the common table. */
export interface Comparison {
  /** Its key in the JSON line's `ops`. */
  key: string;
  label: string;
  /** Bytes processed, for a rate in the table; 0 for none. */
  bytes: number;
  nix: Side;
  bunix: Side;
  /** nix time / bunix time: > 1 means bunix is faster. */
  ratio: number;
}

/** The same operation as a nix command and a bunix command. */
export interface CommandPair {
  key: string;
  label: string;
  bytes: number;
  sink: Sink;
  nix: string[];
  bunix: string[];
  runs: number;
  /** Both must print the same (hash commands). */
  sameOutput?: boolean;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const PIPE_SCRIPT = 'set -o pipefail; "$@" | cat > /dev/null';

function runOnce(tools: Tools, argv: readonly string[], sink: Sink): Sample {
  const command = sink === "pipe" ? ["bash", "-c", PIPE_SCRIPT, "bench", ...argv] : [...argv];
  const start = performance.now();
  const result = Bun.spawnSync(command, {
    env: tools.env,
    stdin: "ignore",
    stdout: sink === "capture" ? "pipe" : tools.devNull,
    stderr: "pipe",
  });
  const ms = performance.now() - start;
  if (result.exitCode !== 0) {
    const stderr = result.stderr ? result.stderr.toString().trim() : "";
    throw new BenchFailure(`'${command.join(" ")}' exited with ${result.exitCode ?? result.signalCode}: ${stderr}`);
  }
  const usage = result.resourceUsage;
  return {
    ms,
    cpuMs: Number(usage.cpuTime.total) / 1000,
    stdout: sink === "capture" && result.stdout ? result.stdout.toString().trim() : "",
  };
}

/** Median, minimum and samples of wall time, and median CPU time. */
export function sideOf(samples: readonly Sample[]): Side {
  const ms = samples.map((s) => s.ms);
  return {
    medianMs: round(median(ms), 2),
    minMs: round(Math.min(...ms), 2),
    samplesMs: ms.map((m) => round(m, 2)),
    medianCpuMs: round(median(samples.map((s) => s.cpuMs)), 2),
  };
}

/** Times both commands of `pair`; with sameOutput, fails unless every run prints the same. */
export function comparePair(tools: Tools, pair: CommandPair): Comparison {
  log(`${pair.label}: warm-up + ${pair.runs} runs each`);
  const nix: Sample[] = [];
  const bunix: Sample[] = [];
  const check = (which: string, sample: Sample, expected: string | undefined) => {
    if (pair.sameOutput && expected !== undefined && sample.stdout !== expected) {
      throw new BenchFailure(`${pair.label}: ${which} printed '${sample.stdout}', expected '${expected}'`);
    }
  };
  // Warm-up (page cache, binaries); its output fixes what every run must print.
  const warmNix = runOnce(tools, pair.nix, pair.sink);
  const warmBunix = runOnce(tools, pair.bunix, pair.sink);
  if (pair.sameOutput && warmNix.stdout !== warmBunix.stdout) {
    throw new BenchFailure(`${pair.label}: HASH MISMATCH: nix printed '${warmNix.stdout}', bunix printed '${warmBunix.stdout}'`);
  }
  const expected = pair.sameOutput ? warmNix.stdout : undefined;
  for (let i = 0; i < pair.runs; i++) {
    // Alternate which tool goes first, so drift hits both alike.
    const order = i % 2 === 0 ? (["nix", "bunix"] as const) : (["bunix", "nix"] as const);
    for (const who of order) {
      const sample = runOnce(tools, who === "nix" ? pair.nix : pair.bunix, pair.sink);
      check(who, sample, expected);
      (who === "nix" ? nix : bunix).push(sample);
    }
  }
  const n = sideOf(nix);
  const b = sideOf(bunix);
  if (expected !== undefined) {
    n.output = expected;
    b.output = expected;
  }
  return { key: pair.key, label: pair.label, bytes: pair.bytes, nix: n, bunix: b, ratio: round(n.medianMs / b.medianMs, 3) };
}

/** sha256 and size of what a command writes to stdout, read in-process from a pipe. */
export async function stdoutSha256(tools: Tools, argv: readonly string[]): Promise<{ sha256: string; bytes: number }> {
  const proc = Bun.spawn([...argv], { env: tools.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const hasher = new Bun.CryptoHasher("sha256");
  let bytes = 0;
  for await (const chunk of proc.stdout) {
    hasher.update(chunk);
    bytes += chunk.length;
  }
  const code = await proc.exited;
  if (code !== 0) throw new BenchFailure(`'${argv.join(" ")}' exited with ${code}: ${(await new Response(proc.stderr).text()).trim()}`);
  return { sha256: hasher.digest("hex"), bytes };
}

/** Median time of an in-process function, after one warm-up call. */
export function timeMedian(runs: number, fn: () => void): { medianMs: number; samplesMs: number[] } {
  fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return { medianMs: round(median(samples), 2), samplesMs: samples.map((s) => round(s, 2)) };
}

// ---------------------------------------------------------------- peak memory
//
// Not Bun's own resourceUsage().maxRSS where it can be avoided: Bun starts
// children with posix_spawn (vfork-like), and Linux carries the parent's RSS
// high-water mark across that exec into the child's ru_maxrss, so every child
// would report at least the benchmark's own RSS.

const GNU_TIME = "/usr/bin/time";

/** Where GNU time is to write max RSS (in `tmpDir`), or undefined when there is no working GNU time. */
export function gnuTimeOutput(tmpDir: string): string | undefined {
  const works = existsSync(GNU_TIME) && Bun.spawnSync([GNU_TIME, "-f", "%M", "true"], { stderr: "pipe" }).exitCode === 0;
  return works ? join(tmpDir, "maxrss") : undefined;
}

/** How peakRss measures, for the report. */
export function memoryMethod(tools: Tools): string {
  return tools.timeOutput !== undefined ? "GNU time %M" : "Bun ru_maxrss (upper bound: includes the benchmark's own RSS)";
}

export interface PeakMemory {
  nixBytes: number;
  bunixBytes: number;
}

/**
 * Max RSS of a command, the highest of `runs` runs. GNU time forks its own
 * child, so the figure is the command's alone; without GNU time, Bun's
 * ru_maxrss is used, an upper bound that includes the benchmark's own RSS.
 */
function peakRss(tools: Tools, argv: readonly string[], runs: number): number {
  let peak = 0;
  for (let i = 0; i < runs; i++) {
    if (tools.timeOutput === undefined) {
      const result = Bun.spawnSync([...argv], { env: tools.env, stdin: "ignore", stdout: tools.devNull, stderr: "pipe" });
      if (result.exitCode !== 0) throw new BenchFailure(`'${argv.join(" ")}' exited with ${result.exitCode ?? result.signalCode}`);
      // Bun passes wait4's ru_maxrss through: KiB on Linux (its docs say bytes).
      peak = Math.max(peak, result.resourceUsage.maxRSS * 1024);
      continue;
    }
    const command = [GNU_TIME, "-f", "%M", "-o", tools.timeOutput, ...argv];
    const result = Bun.spawnSync(command, { env: tools.env, stdin: "ignore", stdout: tools.devNull, stderr: "pipe" });
    if (result.exitCode !== 0) {
      const stderr = result.stderr ? result.stderr.toString().trim() : "";
      throw new BenchFailure(`'${command.join(" ")}' exited with ${result.exitCode ?? result.signalCode}: ${stderr}`);
    }
    const kib = Number(readFileSync(tools.timeOutput, "utf8").trim().split("\n").pop());
    if (!Number.isFinite(kib) || kib <= 0) throw new BenchFailure(`could not read the max RSS of '${argv.join(" ")}' from GNU time`);
    peak = Math.max(peak, kib * 1024);
  }
  return peak;
}

/** Peak memory of both commands, in runs of their own (not the timed ones). */
export function measureMemory(tools: Tools, label: string, nix: readonly string[], bunix: readonly string[], runs: number): PeakMemory {
  log(`${label}: peak memory, ${runs} runs each`);
  return { nixBytes: peakRss(tools, nix, runs), bunixBytes: peakRss(tools, bunix, runs) };
}
