/**
 * Deterministic benchmark data: a tree of small and large files, symlinks and
 * executables, and one big file of real (non-sparse) data, both generated
 * from a seed. A manifest next to each records what was generated, so a kept
 * work dir is reused when the seed and sizes match.
 */
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { join, relative } from "node:path";
import { BenchFailure, log } from "./log.ts";
import { Rng, randomBytes } from "./random.ts";
import { fmtMs } from "./report.ts";
import { MiB } from "./units.ts";

export interface TreeSpec {
  seed: number;
  smallFiles: number;
  directories: number;
  emptyDirectories: number;
  symlinks: number;
  maxDepth: number;
  bigFiles: number;
  bigMinMiB: number;
  bigMaxMiB: number;
}

/** The ~340 MB tree of the nar and store suites (--quick: about a tenth). */
// Key order matters: the spec is the key of a kept tree's manifest.
export const FULL_TREE: Omit<TreeSpec, "seed"> = { smallFiles: 40000, directories: 2500, emptyDirectories: 20, symlinks: 1500, maxDepth: 7, bigFiles: 3, bigMinMiB: 50, bigMaxMiB: 60 };
export const QUICK_TREE: Omit<TreeSpec, "seed"> = { smallFiles: 4000, directories: 250, emptyDirectories: 5, symlinks: 150, maxDepth: 7, bigFiles: 3, bigMinMiB: 5, bigMaxMiB: 6 };

export interface TreeStats {
  files: number;
  smallFiles: number;
  bigFiles: number;
  directories: number;
  symlinks: number;
  executables: number;
  bytes: number;
  smallBytes: number;
  bigBytes: number;
}

/** Part of every manifest: bump it when generation changes, so old data is not reused. */
const GENERATOR_VERSION = 1;
const POOL_SIZE = 16 * MiB;

const DIR_WORDS = ["bin", "lib", "share", "include", "doc", "man", "man1", "locale", "src", "test", "data", "icons", "python3.10", "site-packages", "node_modules", "x86_64-linux", "pkgconfig", "etc", "Assets", "_build", "zoneinfo"];
const FILE_WORDS = ["main", "util", "index", "README", "LICENSE", "config", "Makefile", "module", "__init__", "libfoo", "test_case", "string", "Zeta", "alpha", "schema", "données", "日本語", "with space", ".hidden", "-dash", "UPPER"];
const EXTENSIONS = ["", ".c", ".h", ".py", ".pyc", ".js", ".json", ".txt", ".md", ".so.1", ".mo", ".gz", ".html", ".1"];

/** Random bytes that file contents are cut from (cheaper than fresh random data per file). */
export function makePool(seed: number): Uint8Array {
  return randomBytes(new Rng(seed), POOL_SIZE);
}

/** Sizes 0..16 KiB: 5% empty, 25% up to 256 B, 35% up to 4 KiB, 35% up to 16 KiB. */
function smallSize(rng: Rng): number {
  const r = rng.int(100);
  if (r < 5) return 0;
  if (r < 30) return rng.range(1, 256);
  if (r < 65) return rng.range(257, 4096);
  return rng.range(4097, 16384);
}

function writeFromPool(path: string, pool: Uint8Array, rng: Rng, size: number, blockSize: number): void {
  const fd = openSync(path, "w", 0o644);
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, blockSize, pool.length);
      const off = rng.int(pool.length - n + 1);
      let done = 0;
      while (done < n) done += writeSync(fd, pool, off + done, n - done);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}

function generateTree(root: string, spec: TreeSpec, pool: Uint8Array): TreeStats {
  const rng = new Rng(spec.seed * 7919 + 17);
  const stats: TreeStats = { files: 0, smallFiles: 0, bigFiles: 0, directories: 1, symlinks: 0, executables: 0, bytes: 0, smallBytes: 0, bigBytes: 0 };
  mkdirSync(root);
  // Directories: each hangs under a random earlier one, capped in depth.
  const dirs: Array<{ path: string; depth: number }> = [{ path: root, depth: 0 }];
  for (let i = 0; i < spec.directories; i++) {
    let parent = rng.pick(dirs);
    while (parent.depth >= spec.maxDepth) parent = rng.pick(dirs);
    const name = `${rng.pick(DIR_WORDS)}${rng.chance(0.5) ? `-${i}` : `.${i}`}`;
    const path = join(parent.path, name);
    mkdirSync(path);
    dirs.push({ path, depth: parent.depth + 1 });
    stats.directories++;
  }
  for (let i = 0; i < spec.emptyDirectories; i++) {
    mkdirSync(join(rng.pick(dirs).path, `empty-${i}`));
    stats.directories++;
  }
  // Small files.
  const files: string[] = [];
  for (let i = 0; i < spec.smallFiles; i++) {
    const dir = rng.pick(dirs).path;
    const path = join(dir, `${rng.pick(FILE_WORDS)}-${i}${rng.pick(EXTENSIONS)}`);
    const size = smallSize(rng);
    const off = rng.int(pool.length - size + 1);
    writeFileSync(path, pool.subarray(off, off + size), { mode: 0o644 });
    if (rng.chance(0.08)) {
      chmodSync(path, 0o755);
      stats.executables++;
    }
    files.push(path);
    stats.smallFiles++;
    stats.smallBytes += size;
  }
  // Symlinks: to real files (relative), absolute, dangling, long.
  for (let i = 0; i < spec.symlinks; i++) {
    const dir = rng.pick(dirs).path;
    const r = rng.int(10);
    let target: string;
    if (r < 6) target = relative(dir, rng.pick(files));
    else if (r < 8) target = `/usr/share/${rng.pick(DIR_WORDS)}/${i}`;
    else if (r < 9) target = `missing-${i}`;
    else target = `${"../".repeat(rng.range(1, 40))}${rng.pick(FILE_WORDS)}-${i}`;
    symlinkSync(target, join(dir, `link-${i}`));
    stats.symlinks++;
  }
  // A few large files at odd sizes (so the NAR padding is exercised).
  const bigDir = join(root, "big");
  mkdirSync(bigDir);
  stats.directories++;
  for (let i = 0; i < spec.bigFiles; i++) {
    const size = rng.range(spec.bigMinMiB, spec.bigMaxMiB) * MiB + rng.int(4096);
    const path = join(bigDir, `blob-${i}.bin`);
    writeFromPool(path, pool, rng, size, MiB);
    if (i === 0) {
      chmodSync(path, 0o755);
      stats.executables++;
    }
    stats.bigFiles++;
    stats.bigBytes += size;
  }
  stats.files = stats.smallFiles + stats.bigFiles;
  stats.bytes = stats.smallBytes + stats.bigBytes;
  return stats;
}

/** Counts what is really on disk (also checks a reused tree). */
function scanTree(root: string): { files: number; bytes: number; symlinks: number; directories: number } {
  const result = { files: 0, bytes: 0, symlinks: 0, directories: 0 };
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    result.directories++;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isDirectory()) stack.push(path);
      else if (st.isSymbolicLink()) result.symlinks++;
      else {
        result.files++;
        result.bytes += st.size;
      }
    }
  }
  return result;
}

/**
 * The tree at `root` as `spec` describes it: reused when `manifest` says it was
 * generated from the same spec, generated afresh otherwise; either way checked
 * against the disk. `generatedMs` is 0 for a reused tree.
 */
export function prepareTree(root: string, manifest: string, spec: TreeSpec, pool: Uint8Array): { stats: TreeStats; generatedMs: number } {
  const wantedKey = JSON.stringify({ generator: GENERATOR_VERSION, spec });
  let stats: TreeStats;
  let generatedMs = 0;
  const previous = existsSync(manifest) && existsSync(root) ? (JSON.parse(readFileSync(manifest, "utf8")) as { key: string; stats: TreeStats }) : undefined;
  if (previous !== undefined && previous.key === wantedKey) {
    stats = previous.stats;
    log(`reusing the tree in ${root}`);
  } else {
    rmSync(root, { recursive: true, force: true });
    rmSync(manifest, { force: true });
    log(`generating the tree (seed ${spec.seed})...`);
    const start = performance.now();
    stats = generateTree(root, spec, pool);
    generatedMs = performance.now() - start;
    writeFileSync(manifest, JSON.stringify({ key: wantedKey, stats }));
  }
  const onDisk = scanTree(root);
  if (onDisk.files !== stats.files || onDisk.bytes !== stats.bytes || onDisk.symlinks !== stats.symlinks) {
    throw new BenchFailure(`the tree in ${root} is not what was generated (${JSON.stringify(onDisk)} vs ${JSON.stringify(stats)}); remove it`);
  }
  return { stats, generatedMs };
}

/** A file of `bytes` pseudo-random bytes at `path`, reused like the tree. */
export function prepareBigFile(path: string, manifest: string, seed: number, bytes: number, pool: Uint8Array): void {
  const wanted = JSON.stringify({ generator: GENERATOR_VERSION, seed, bytes });
  if (existsSync(path) && existsSync(manifest) && readFileSync(manifest, "utf8") === wanted && lstatSync(path).size === bytes) {
    log(`reusing ${path}`);
    return;
  }
  log(`writing ${path} (${bytes} bytes of pseudo-random data)...`);
  const start = performance.now();
  writeFromPool(path, pool, new Rng(seed + 1), bytes, 4 * MiB);
  writeFileSync(manifest, wanted);
  log(`  written in ${fmtMs(performance.now() - start)}`);
}
