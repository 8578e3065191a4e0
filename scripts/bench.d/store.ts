/**
 * The store suite: the local store's everyday operations, dist/bunix against
 * real Nix on the same data.
 *
 * - Adding the ~340 MB tree of the nar suite (tree.ts), and 5,000 small files
 *   in one command: `nix-store --store ROOT --add` vs `bunix store add
 *   --store ROOT`. Every run starts from a fresh, empty store (made untimed
 *   by `bunix store init`, the same for both); both must print the same paths.
 * - 10,000 path-info queries in one command: `nix path-info --json` vs
 *   `bunix store path-info --json` over a store of 10,000 small paths and the
 *   tree, populated by real Nix; both must print the same JSON.
 * - `nix-store --verify --check-contents` vs `bunix store verify
 *   --check-contents --no-metadata` of that whole store (the same work), and
 *   vs bunix's default, which also checks every entry's metadata.
 *
 * Wall time is the median of N runs (the tools interleaved); cpu is user +
 * system time of the command.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BenchFailure, log } from "./log.ts";
import { type Comparison, type Sample, type Tools, comparePair, runTimed, sideOf } from "./measure.ts";
import { Rng } from "./random.ts";
import { fmtMB } from "./report.ts";
import type { Suite, SuiteContext, SuiteResult } from "./suite.ts";
import { FULL_TREE, QUICK_TREE, type TreeSpec, makePool, prepareTree } from "./tree.ts";
import { MB, round } from "./units.ts";

const FULL = { adds: 5000, queries: 10000 };
const QUICK = { adds: 500, queries: 1000 };

export const storeSuite: Suite = {
  name: "store",
  description: "store add (300 MB tree, 5,000 small paths), 10,000 path-info queries, verify --check-contents vs nix-store/nix",
  workEntries: ["tree", "tree.manifest.json", "store-small", "store-runs", "store-template"],
  run: runStoreSuite,
};

/** `count` small files (a line and 0..2 KiB of pool bytes each), made once and reused. */
function smallFiles(dir: string, count: number, pool: Uint8Array, seed: number): string[] {
  const rng = new Rng(seed + 7);
  const files: string[] = [];
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const file = join(dir, `small-${String(i).padStart(5, "0")}`);
    const extra = rng.int(2048);
    const at = rng.int(pool.length - extra);
    if (!existsSync(file)) writeFileSync(file, Buffer.concat([Buffer.from(`small file ${i} of seed ${seed}\n`), pool.subarray(at, at + extra)]));
    files.push(file);
  }
  return files;
}

/**
 * Adds `inputs` into a fresh empty store per run and tool; both tools must
 * print the same store paths (in any order).
 */
function compareAdds(tools: Tools, work: string, key: string, label: string, bytes: number, inputs: readonly string[], runs: number): Comparison {
  log(`${label}: ${runs} runs each, each into a fresh empty store`);
  const samples = { nix: [] as Sample[], bunix: [] as Sample[] };
  const printed = { nix: "", bunix: "" };
  for (let i = 0; i < runs; i++) {
    for (const who of i % 2 === 0 ? (["nix", "bunix"] as const) : (["bunix", "nix"] as const)) {
      const root = join(work, "store-runs", `${key}-${who}`);
      rmSync(root, { recursive: true, force: true });
      runTimed(tools, [tools.bunix, "store", "init", "--store", root]);
      const argv = who === "nix" ? [tools.nixStore, "--store", root, "--add", ...inputs] : [tools.bunix, "store", "add", "--store", root, ...inputs];
      const sample = runTimed(tools, argv);
      samples[who].push(sample);
      printed[who] = sample.stdout.trim().split("\n").sort().join("\n");
      rmSync(root, { recursive: true, force: true });
    }
    if (printed.nix !== printed.bunix) throw new BenchFailure(`${label}: PATH MISMATCH between nix-store --add and bunix store add`);
  }
  const nix = sideOf(samples.nix);
  const bunix = sideOf(samples.bunix);
  return { key, label, bytes, nix, bunix, ratio: round(nix.medianMs / bunix.medianMs, 3) };
}

async function runStoreSuite({ options, work, tools }: SuiteContext): Promise<SuiteResult> {
  const sizes = options.quick ? QUICK : FULL;
  const nixCommand = Bun.which("nix");
  if (nixCommand === null) throw new BenchFailure("the store suite needs the 'nix' command (nix-bin) on PATH");
  const pool = makePool(options.seed);
  const spec: TreeSpec = { seed: options.seed, ...(options.quick ? QUICK_TREE : FULL_TREE) };
  const tree = join(work, "tree");
  const { stats } = prepareTree(tree, join(work, "tree.manifest.json"), spec, pool);
  const files = smallFiles(join(work, "store-small"), sizes.queries, pool, options.seed);
  const runs = options.quick ? 2 : Math.max(3, Math.min(options.runs, 5));

  const rows: Comparison[] = [];
  // Adding the tree takes ~45 s per run for either tool: at most 3 runs.
  rows.push(compareAdds(tools, work, "storeAddTree", `store: add a ${fmtMB(stats.bytes)} tree`, stats.bytes, [tree], Math.min(runs, 3)));
  rows.push(compareAdds(tools, work, "storeAddSmall", `store: add ${sizes.adds.toLocaleString("en")} small paths`, 0, files.slice(0, sizes.adds), runs));

  // A store populated by real Nix: every small file and the tree.
  const template = join(work, "store-template");
  rmSync(template, { recursive: true, force: true });
  log(`store: populating a store with nix-store --add (${sizes.queries} small paths and the tree)`);
  const paths = runTimed(tools, [tools.nixStore, "--store", template, "--add", ...files]).stdout.trim().split("\n");
  runTimed(tools, [tools.nixStore, "--store", template, "--add", tree]);
  if (paths.length !== sizes.queries) throw new BenchFailure(`nix-store --add printed ${paths.length} paths, expected ${sizes.queries}`);

  rows.push(
    comparePair(tools, {
      key: "storePathInfo",
      label: `store: path-info --json of ${sizes.queries.toLocaleString("en")} paths`,
      bytes: 0,
      sink: "capture",
      nix: [nixCommand, "--extra-experimental-features", "nix-command", "path-info", "--json", "--store", template, ...paths],
      bunix: [tools.bunix, "store", "path-info", "--json", "--store", template, ...paths],
      runs: options.runs,
      sameOutput: true,
    }),
  );
  // Like for like: nix-store --verify does not check metadata; bunix does by default (a second row).
  rows.push(
    comparePair(tools, {
      key: "storeVerify",
      label: "store: verify --check-contents",
      bytes: 0,
      sink: "devnull",
      nix: [tools.nixStore, "--store", template, "--verify", "--check-contents"],
      bunix: [tools.bunix, "store", "verify", "--check-contents", "--no-metadata", "--store", template],
      runs,
    }),
  );
  rows.push(
    comparePair(tools, {
      key: "storeVerifyMetadata",
      label: "store: verify --check-contents, bunix also checking metadata",
      bytes: 0,
      sink: "devnull",
      nix: [tools.nixStore, "--store", template, "--verify", "--check-contents"],
      bunix: [tools.bunix, "store", "verify", "--check-contents", "--store", template],
      runs,
    }),
  );
  for (const row of rows) delete row.nix.output, delete row.bunix.output; // the JSON line stays small
  return {
    summary: [
      `store: adds into fresh empty stores (the ${fmtMB(stats.bytes)} tree of the nar suite: ${stats.files} files; ${sizes.adds} small files of up to 2 KiB); ` +
        `queries and verify on one store of ${sizes.queries} small paths and the tree, populated by nix-store --add; median of ${runs} runs (path-info: ${options.runs})`,
    ],
    rows,
    sections: [],
    json: { store: { treeBytes: stats.bytes, treeMB: round(stats.bytes / MB, 1), adds: sizes.adds, queries: sizes.queries, runs } },
  };
}
