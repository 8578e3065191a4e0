/**
 * The NAR suite: dist/bunix against nix-store/nix-hash on the same data.
 *
 * 1. Data (tree.ts): a tree of ~340 MB (~40,000 small files of 0..16 KiB in
 *    nested directories, symlinks, executables, three 50-60 MiB files) and a
 *    1 GiB file; --quick makes both about ten times smaller.
 * 2. Wall time, median of N runs after one warm-up run per command (so the
 *    page cache is hot for both tools), runs of the two tools interleaved:
 *    - `nix-store --dump` vs `bunix nar dump`, to /dev/null and through a pipe
 *      read by `cat`;
 *    - `nix-hash --type sha256` vs `bunix hash path --type sha256 --base16`.
 *    The hashes printed, and the sha256 of both dumps, must agree, or the
 *    benchmark stops with an error.
 * 3. Peak memory (max RSS, measured by GNU time in separate runs) of dumping
 *    and hashing the 1 GiB file (and the tree); bunix's goal is under 100 MB.
 * 4. In-process throughput of the two hash back ends (hash-backends.ts), and
 *    of dumpPath/hashPath on the tree with each back end.
 */
import { join } from "node:path";
import { dumpPath } from "../../internal/nar/dump.ts";
import { hashPath } from "../../internal/nar/hash-path.ts";
import { hashBackendsTable, measureHashBackends } from "./hash-backends.ts";
import { BenchFailure, log } from "./log.ts";
import { type Comparison, type PeakMemory, type Tools, comparePair, measureMemory, memoryMethod, stdoutSha256, timeMedian } from "./measure.ts";
import { fmtMB, fmtMs, fmtRate, table } from "./report.ts";
import type { Suite, SuiteContext, SuiteResult } from "./suite.ts";
import { FULL_TREE, QUICK_TREE, type TreeSpec, makePool, prepareBigFile, prepareTree } from "./tree.ts";
import { MB, MiB, round } from "./units.ts";

const BIG_FILE_GOAL_BYTES = 100 * MB;
const MEMORY_RUNS = 2;

export const narSuite: Suite = {
  name: "nar",
  description: "NAR dump and hash vs nix-store/nix-hash, peak memory, hash back ends",
  workEntries: ["tree", "tree.manifest.json", "gib.bin", "gib.manifest.json"],
  run: runNarSuite,
};

interface NarDigest {
  sha256: string;
  bytes: number;
}

/** Both dumps must be byte-identical (same sha256 and size) and match nix-hash. */
async function checkDumps(tools: Tools, what: string, path: string, nixHashOutput: string | undefined): Promise<NarDigest> {
  log(`${what}: checking that both dumps are identical`);
  const nix = await stdoutSha256(tools, [tools.nixStore, "--dump", path]);
  const bunix = await stdoutSha256(tools, [tools.bunix, "nar", "dump", path]);
  if (nix.sha256 !== bunix.sha256 || nix.bytes !== bunix.bytes) {
    throw new BenchFailure(`${what}: NAR MISMATCH: nix-store --dump gave ${nix.bytes} bytes, sha256 ${nix.sha256}; bunix nar dump gave ${bunix.bytes} bytes, sha256 ${bunix.sha256}`);
  }
  if (nixHashOutput !== undefined && nixHashOutput !== nix.sha256) {
    throw new BenchFailure(`${what}: the dumps hash to ${nix.sha256} but nix-hash printed ${nixHashOutput}`);
  }
  return nix;
}

/** dump and hash commands of both tools for `path`. */
function commandsFor(tools: Tools, path: string) {
  return {
    nixDump: [tools.nixStore, "--dump", path],
    bunixDump: [tools.bunix, "nar", "dump", path],
    nixHash: [tools.nixHash, "--type", "sha256", path],
    bunixHash: [tools.bunix, "hash", "path", "--type", "sha256", "--base16", path],
  };
}

/** The library's NAR writer and hasher over the tree, without a process around them. */
function measureInProcess(tree: string, treeNar: NarDigest, runs: number) {
  log("in-process dumpPath/hashPath over the tree...");
  return {
    dumpPath: timeMedian(runs, () => {
      let n = 0;
      for (const chunk of dumpPath(tree)) n += chunk.length;
      if (n !== treeNar.bytes) throw new BenchFailure(`dumpPath gave ${n} bytes, expected ${treeNar.bytes}`);
    }),
    hashPathNative: timeMedian(runs, () => {
      const got = hashPath(tree, "sha256", { backend: "native" }).hash.base16;
      if (got !== treeNar.sha256) throw new BenchFailure(`hashPath (native) gave ${got}`);
    }),
    hashPathNoble: timeMedian(runs, () => {
      const got = hashPath(tree, "sha256", { backend: "noble" }).hash.base16;
      if (got !== treeNar.sha256) throw new BenchFailure(`hashPath (noble) gave ${got}`);
    }),
  };
}

async function runNarSuite({ options, work, tools }: SuiteContext): Promise<SuiteResult> {
  // ---- data
  const spec: TreeSpec = { seed: options.seed, ...(options.quick ? QUICK_TREE : FULL_TREE) };
  const gibBytes = options.quick ? 128 * MiB : 1024 * MiB;
  const gibLabel = options.quick ? `${gibBytes / MiB} MiB file` : "1 GiB file";
  const pool = makePool(options.seed);

  const tree = join(work, "tree");
  const { stats, generatedMs } = prepareTree(tree, join(work, "tree.manifest.json"), spec, pool);
  if (!options.quick && stats.bytes < 300 * MB) throw new BenchFailure(`the tree holds only ${fmtMB(stats.bytes)}, expected >= 300 MB`);
  log(
    `tree: ${stats.files} files (${stats.smallFiles} small of 0..16 KiB = ${fmtMB(stats.smallBytes)}, ${stats.bigFiles} large = ${fmtMB(stats.bigBytes)}), ` +
      `${stats.bytes} bytes (${fmtMB(stats.bytes)}), ${stats.directories} directories, ${stats.symlinks} symlinks, ${stats.executables} executables` +
      (generatedMs > 0 ? `; generated in ${fmtMs(generatedMs)}` : ""),
  );
  const gib = join(work, "gib.bin");
  prepareBigFile(gib, join(work, "gib.manifest.json"), options.seed, gibBytes, pool);

  // ---- timed comparisons; the hash runs come first, as the dumps are checked against them
  const bigRuns = Math.min(options.runs, 3);
  const onTree = commandsFor(tools, tree);
  const onGib = commandsFor(tools, gib);
  const rows: Comparison[] = [];
  rows.push(comparePair(tools, { key: "startup", label: "startup (--version)", bytes: 0, sink: "devnull", nix: [tools.nixStore, "--version"], bunix: [tools.bunix, "--version"], runs: Math.max(options.runs, 10) }));
  const treeHash = comparePair(tools, { key: "treeHash", label: "tree: hash sha256", bytes: 0, sink: "capture", nix: onTree.nixHash, bunix: onTree.bunixHash, runs: options.runs, sameOutput: true });
  const treeNar = await checkDumps(tools, "tree", tree, treeHash.nix.output);
  treeHash.bytes = treeNar.bytes;
  log(`tree NAR: ${treeNar.bytes} bytes, sha256 ${treeNar.sha256} (same from both tools and nix-hash)`);
  const treeDumpDevNull = comparePair(tools, { key: "treeDumpDevNull", label: "tree: dump > /dev/null", bytes: treeNar.bytes, sink: "devnull", nix: onTree.nixDump, bunix: onTree.bunixDump, runs: options.runs });
  rows.push(treeDumpDevNull);
  rows.push(comparePair(tools, { key: "treeDumpPipe", label: "tree: dump | cat > /dev/null", bytes: treeNar.bytes, sink: "pipe", nix: onTree.nixDump, bunix: onTree.bunixDump, runs: options.runs }));
  rows.push(treeHash);

  const gibHash = comparePair(tools, { key: "gibHash", label: `${gibLabel}: hash sha256`, bytes: 0, sink: "capture", nix: onGib.nixHash, bunix: onGib.bunixHash, runs: bigRuns, sameOutput: true });
  const gibNar = await checkDumps(tools, "1 GiB file", gib, gibHash.nix.output);
  gibHash.bytes = gibNar.bytes;
  rows.push(comparePair(tools, { key: "gibDumpDevNull", label: `${gibLabel}: dump > /dev/null`, bytes: gibNar.bytes, sink: "devnull", nix: onGib.nixDump, bunix: onGib.bunixDump, runs: bigRuns }));
  rows.push(comparePair(tools, { key: "gibDumpPipe", label: `${gibLabel}: dump | cat > /dev/null`, bytes: gibNar.bytes, sink: "pipe", nix: onGib.nixDump, bunix: onGib.bunixDump, runs: bigRuns }));
  rows.push(gibHash);

  // ---- peak memory, in runs of their own
  const memory = {
    startup: measureMemory(tools, "startup (--version)", [tools.nixStore, "--version"], [tools.bunix, "--version"], MEMORY_RUNS),
    treeDump: measureMemory(tools, "tree: dump > /dev/null", onTree.nixDump, onTree.bunixDump, MEMORY_RUNS),
    treeHash: measureMemory(tools, "tree: hash sha256", onTree.nixHash, onTree.bunixHash, MEMORY_RUNS),
    gibDump: measureMemory(tools, `${gibLabel}: dump > /dev/null`, onGib.nixDump, onGib.bunixDump, MEMORY_RUNS),
    gibHash: measureMemory(tools, `${gibLabel}: hash sha256`, onGib.nixHash, onGib.bunixHash, MEMORY_RUNS),
  };
  const goalMet = memory.gibDump.bunixBytes < BIG_FILE_GOAL_BYTES && memory.gibHash.bunixBytes < BIG_FILE_GOAL_BYTES;

  // ---- in-process: hash back ends and the NAR writer without a process around it
  const throughput = measureHashBackends(pool, options.quick);
  const inProcess = measureInProcess(tree, treeNar, Math.min(options.runs, 3));

  // ---- report
  const method = memoryMethod(tools);
  const memRow = (label: string, m: PeakMemory, goal: boolean) => [
    label,
    fmtMB(m.nixBytes),
    fmtMB(m.bunixBytes),
    `${(m.nixBytes / m.bunixBytes).toFixed(2)}x`,
    goal ? (m.bunixBytes < BIG_FILE_GOAL_BYTES ? "ok (< 100 MB)" : "OVER 100 MB") : "",
  ];
  const memoryTable = table(
    [`peak memory (max RSS, ${method}, max of ${MEMORY_RUNS} runs)`, "nix", "bunix", "nix/bunix", "bunix goal"],
    [
      memRow("startup (--version)", memory.startup, false),
      memRow("tree: dump > /dev/null", memory.treeDump, false),
      memRow("tree: hash sha256", memory.treeHash, false),
      memRow(`${gibLabel}: dump > /dev/null`, memory.gibDump, true),
      memRow(`${gibLabel}: hash sha256`, memory.gibHash, true),
    ],
    new Set([1, 2, 3]),
  );
  const rateRow = (label: string, ms: number) => [label, fmtMs(ms), fmtRate(treeNar.bytes, ms)];
  const inProcessTable = table(
    ["in-process over the tree (bench's bun)", "time", "rate"],
    [
      rateRow("dumpPath, chunks discarded", inProcess.dumpPath.medianMs),
      rateRow("hashPath sha256, native", inProcess.hashPathNative.medianMs),
      rateRow("hashPath sha256, noble", inProcess.hashPathNoble.medianMs),
      rateRow("(cli) bunix nar dump > /dev/null", treeDumpDevNull.bunix.medianMs),
    ],
    new Set([1, 2]),
  );

  return {
    summary: [
      `tree: ${stats.files} files, ${stats.bytes} bytes (${fmtMB(stats.bytes)}); ${stats.directories} dirs, ${stats.symlinks} symlinks, ${stats.executables} executables; NAR ${fmtMB(treeNar.bytes)} sha256 ${treeNar.sha256}`,
      `big file: ${gibBytes} bytes; NAR sha256 ${gibNar.sha256}`,
      `times: median of ${options.runs} runs (${bigRuns} for the big file) after one warm-up; ratio = nix time / bunix time (> 1: bunix faster)`,
    ],
    rows,
    sections: [memoryTable, hashBackendsTable(throughput), inProcessTable],
    json: {
      bigRuns,
      tree: { ...stats, narBytes: treeNar.bytes, narSha256: treeNar.sha256, generatedMs: round(generatedMs, 0) },
      bigFile: { bytes: gibBytes, narBytes: gibNar.bytes, narSha256: gibNar.sha256 },
      memory: { ...memory, method, runs: MEMORY_RUNS, goalBytes: BIG_FILE_GOAL_BYTES, bunixUnderGoal: goalMet },
      hashBackends: throughput,
      inProcess,
    },
  };
}
