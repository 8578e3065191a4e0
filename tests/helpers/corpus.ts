/**
 * The differential-test corpus, written once per test process: 200 random
 * trees (tree-000 ... tree-199) and two trees holding files over 100 MB.
 */
import { closeSync, mkdirSync, openSync, writeSync, writeFileSync } from "node:fs";
import { Random } from "./random.ts";
import { writeRandomTree } from "./random-tree.ts";
import { scratchDir } from "./tmp.ts";

export const TREE_COUNT = Number(process.env.BUNIX_TREES ?? 200);

export interface Corpus {
  dir: string;
  trees: string[];
  bigTrees: string[];
}

let corpus: Corpus | undefined;

function writeBigFile(path: string, bytes: number, seed: number): void {
  const rng = new Random(seed);
  const block = Buffer.from(rng.bytes(1 << 20));
  const fd = openSync(path, "w", 0o644);
  try {
    for (let written = 0; written < bytes; ) {
      const n = Math.min(block.length, bytes - written);
      block.writeUInt32LE(written >>> 0, 0); // vary each block
      writeSync(fd, block, 0, n);
      written += n;
    }
  } finally {
    closeSync(fd);
  }
}

export function getCorpus(): Corpus {
  if (corpus) return corpus;
  const dir = scratchDir("corpus");
  const trees: string[] = [];
  for (let i = 0; i < TREE_COUNT; i++) {
    const path = `${dir}/tree-${String(i).padStart(3, "0")}`;
    writeRandomTree(new Random(1000 + i), path, { maxDepth: 1 + (i % 5), maxEntries: 3 + (i % 8) });
    trees.push(path);
  }
  const big0 = `${dir}/big-file`;
  writeBigFile(big0, 100 * 1024 * 1024 + 4099, 1); // a bare file, not a multiple of 8 bytes
  const big1 = `${dir}/big-dir`;
  mkdirSync(big1);
  writeBigFile(`${big1}/huge.bin`, 120 * 1024 * 1024, 2);
  writeFileSync(`${big1}/small`, "next to a big one\n");
  corpus = { dir, trees, bigTrees: [big0, big1] };
  return corpus;
}
