// Fuzzing the NAR reader and restorer in-process: thousands of mutated NARs
// (bit flips, overwrites, truncations, insertions, deletions, duplicated
// regions, swapped words, corrupted length fields, splices, trailing garbage)
// made from valid NARs of random trees and the fixture NARs.
//
// Every case must end in success or a BunixError; nothing may be written
// outside the target; a failed restore leaves no target; an accepted NAR
// re-dumps byte for byte (the reader only accepts canonical NARs).
//
// Reproducible: each case has its own PRNG seeded from (seed, index).
// BUNIX_FUZZ_CASES=N sets the number of mutated cases (default 10000);
// BUNIX_FUZZ_ONLY=<seed>:<index> re-runs the one case a failure names.
import { describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { BunixError } from "../../internal/errors.ts";
import { dumpPath } from "../../internal/nar/dump.ts";
import { NarReader, NarFormatError } from "../../internal/nar/reader.ts";
import { restoreNar } from "../../internal/nar/restore.ts";
import { TOKEN, encodeString, paddingOf, writeU64 } from "../../internal/nar/tokens.ts";
import { type ByteSource, ChunkSource, bytesSource } from "../../internal/stream/byte-source.ts";
import hashes from "../fixtures/nar-hashes.json";
import invalid from "../fixtures/nar-invalid.json";
import { caseSeed, concat, describeError, envCount, hex, parseOnly } from "../helpers/fuzz.ts";
import { Random } from "../helpers/random.ts";
import { writeRandomTree } from "../helpers/random-tree.ts";
import { scratchDir } from "../helpers/tmp.ts";

// ---- Configuration ---------------------------------------------------------------


const TOTAL_CASES = envCount("BUNIX_FUZZ_CASES", 10000);
/** Fixed seeds: one test per seed, each running its share of the cases. */
const SEEDS = [0x6e617201, 0x6e617202, 0x6e617203, 0x6e617204] as const;
/** Seed of the random trees the valid seed NARs are dumped from. */
const TREE_SEED = 0x7472ee00;
const TREE_COUNT = 24;
/** Seed NARs larger than this are skipped, so that each case stays cheap. */
const MAX_SEED_NAR = 16 << 10;

const ONLY = parseOnly(process.env.BUNIX_FUZZ_ONLY);




// ---- Helpers ------------------------------------------------------------------------

function dump(path: string): Buffer {
  return Buffer.concat([...dumpPath(path, { bufferSize: 1 << 16 })].map((chunk) => Buffer.from(chunk)));
}

/**
 * A plain Uint8Array copy. NARs are kept as plain Uint8Arrays because
 * Buffer#slice does not copy: mutating a "slice" of a Buffer would corrupt
 * the seed corpus.
 */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}


function readU64(bytes: Uint8Array, at: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  return view.getUint32(0, true) + view.getUint32(4, true) * 0x100000000;
}

/**
 * Offsets of the length fields of a NAR: a NAR is a sequence of str(x)
 * tokens, file contents included, so walking lengths finds every one (of a
 * mutated NAR, those up to the first implausible length).
 */
function tokenOffsets(nar: Uint8Array): number[] {
  const offsets: number[] = [];
  let at = 0;
  while (at + 8 <= nar.length) {
    offsets.push(at);
    const length = readU64(nar, at);
    if (length > nar.length) break;
    at += 8 + length + paddingOf(length);
  }
  return offsets;
}

/** Where the token starting at `at` ends (clamped to the NAR). */
function tokenEnd(nar: Uint8Array, at: number): number {
  if (at + 8 > nar.length) return nar.length;
  const length = readU64(nar, at);
  return Math.min(nar.length, at + 8 + length + paddingOf(length));
}

function printableName(name: Uint8Array): string {
  return Buffer.from(name)
    .toString("latin1")
    .replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}


// ---- Hand-built NARs (for targeted cases) ---------------------------------------

type Bytes = string | Uint8Array;
type NarNode =
  | { type: "regular"; executable?: boolean; contents: Bytes }
  | { type: "symlink"; target: Bytes }
  | { type: "directory"; entries: Array<[Bytes, NarNode]> };

/** The NAR of `node`, entries in the order given (so unsorted and duplicate entries can be built). */
function narOf(node: NarNode): Uint8Array {
  const parts: Uint8Array[] = [TOKEN.magic];
  const put = (n: NarNode): void => {
    parts.push(TOKEN.open, TOKEN.type);
    if (n.type === "regular") {
      parts.push(TOKEN.regular);
      if (n.executable) parts.push(TOKEN.executable, TOKEN.empty);
      parts.push(TOKEN.contents, encodeString(n.contents));
    } else if (n.type === "symlink") {
      parts.push(TOKEN.symlink, TOKEN.target, encodeString(n.target));
    } else {
      parts.push(TOKEN.directory);
      for (const [name, child] of n.entries) {
        parts.push(TOKEN.entry, TOKEN.open, TOKEN.name, encodeString(name), TOKEN.node);
        put(child);
        parts.push(TOKEN.close);
      }
    }
    parts.push(TOKEN.close);
  };
  put(node);
  return concat(parts);
}

const file = (contents: Bytes = "x"): NarNode => ({ type: "regular", contents });
const dir = (...entries: Array<[Bytes, NarNode]>): NarNode => ({ type: "directory", entries });

// ---- Seed corpus ------------------------------------------------------------------

interface Seed {
  readonly label: string;
  readonly nar: Uint8Array;
}

function buildCorpus(): Seed[] {
  const seeds: Seed[] = [];
  const treeDir = scratchDir("nar-fuzz-trees");
  for (let i = 0; i < TREE_COUNT * 4 && seeds.filter((s) => s.label.startsWith("tree")).length < TREE_COUNT; i++) {
    const path = `${treeDir}/t${i}`;
    const rng = new Random(TREE_SEED + i);
    writeRandomTree(rng, path, { maxDepth: 2 + (i % 2), maxEntries: 4 });
    const nar = dump(path);
    if (nar.length <= MAX_SEED_NAR) seeds.push({ label: `tree ${hex(TREE_SEED + i)}`, nar: plain(nar) });
  }
  for (const c of hashes.cases) {
    if ("nar_base64" in c && typeof c.nar_base64 === "string") seeds.push({ label: `nar-hashes ${c.name}`, nar: plain(Buffer.from(c.nar_base64, "base64")) });
  }
  for (const c of invalid.cases) seeds.push({ label: `nar-invalid ${c.name}`, nar: plain(Buffer.from(c.nar_base64, "base64")) });
  seeds.push({ label: "nar-invalid case_hack", nar: plain(Buffer.from(invalid.case_hack.nar_base64, "base64")) });
  // A hand-made shape: nesting, an executable, a symlink, an empty file.
  seeds.push({
    label: "hand nested",
    nar: narOf(
      dir(
        ["a", dir(["b", dir(["c", file("deep")])], ["e", { type: "regular", executable: true, contents: "#!/bin/sh\n" }])],
        ["l", { type: "symlink", target: "a/b" }],
        ["z", file("")],
      ),
    ),
  });
  return seeds;
}

// ---- Mutations --------------------------------------------------------------------

const INTERESTING_BYTES = [0x00, 0xff, 0x01, 0x7f, 0x80, 0x28, 0x29, 0x2e, 0x2f, 0x08, 0x0d];
const GRAMMAR_WORDS = new Set(["nix-archive-1", "(", ")", "type", "regular", "executable", "contents", "symlink", "target", "directory", "entry", "name", "node"]);
const GRAMMAR_TOKENS: readonly Uint8Array[] = [...Object.values(TOKEN), encodeString("."), encodeString(".."), encodeString("a/b"), encodeString("a")];

/** Lengths that stress the reader: zero, huge, around 2^32 and 2^53, off by one. */
function corruptLength(rng: Random, old: number): number {
  const choices = [
    () => 0,
    () => old + 1,
    () => Math.max(0, old - 1),
    () => old + 8,
    () => Math.max(0, old - 8),
    () => 0xffffffff,
    () => 0x100000000,
    () => 0x100000000 + old,
    () => 2 ** 53 - 1,
    () => 2 ** 53,
    () => 2 ** 53 + 8,
    () => 2 ** 63,
    () => 2 ** 64 - 1,
    () => rng.int(64),
    () => 256 + rng.int(8),
    () => 4095 + rng.int(3),
    () => rng.int(1 << 20),
  ];
  return rng.pick(choices)();
}

/** Writes an unsigned 64-bit value (up to 2^64 - 1, given as a double) little endian. */
function putU64(bytes: Uint8Array, at: number, value: number): void {
  if (value < 2 ** 53) {
    writeU64(bytes, at, value);
    return;
  }
  const big = BigInt(Math.min(value, 2 ** 64)) - (value >= 2 ** 64 ? 1n : 0n);
  new DataView(bytes.buffer, bytes.byteOffset + at, 8).setBigUint64(0, big, true);
}

type Mutation = (rng: Random, nar: Uint8Array, corpus: readonly Seed[]) => [Uint8Array, string];

function position(rng: Random, length: number, aligned: boolean): number {
  if (length === 0) return 0;
  const at = rng.int(length + 1);
  return aligned ? at - (at % 8) : at;
}

const MUTATIONS: ReadonlyArray<readonly [string, number, Mutation]> = [
  [
    "bit flips",
    3,
    (rng, nar) => {
      const out = nar.slice();
      const n = 1 + rng.int(4);
      const flipped: number[] = [];
      for (let i = 0; i < n && out.length > 0; i++) {
        const at = rng.int(out.length);
        out[at]! ^= 1 << rng.int(8);
        flipped.push(at);
      }
      return [out, `flip bits at ${flipped.join(",")}`];
    },
  ],
  [
    "byte overwrites",
    3,
    (rng, nar) => {
      const out = nar.slice();
      const n = 1 + rng.int(4);
      const at: number[] = [];
      for (let i = 0; i < n && out.length > 0; i++) {
        const p = rng.int(out.length);
        out[p] = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
        at.push(p);
      }
      return [out, `overwrite bytes at ${at.join(",")}`];
    },
  ],
  [
    "change bytes inside a string",
    2,
    (rng, nar) => {
      // A name, symlink target or file contents (a token longer than the grammar's words), length kept.
      const strings = tokenOffsets(nar).filter((at) => {
        const length = readU64(nar, at);
        return length > 0 && at + 8 + length <= nar.length && !GRAMMAR_WORDS.has(Buffer.from(nar.subarray(at + 8, at + 8 + length)).toString("latin1"));
      });
      if (strings.length === 0) return [nar.slice(), "change string (none)"];
      const at = rng.pick(strings);
      const length = readU64(nar, at);
      const out = nar.slice();
      const p = at + 8 + rng.int(length);
      out[p] = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
      return [out, `change byte ${p} in the string at ${at}`];
    },
  ],
  [
    "truncation",
    2,
    (rng, nar) => {
      const offsets = tokenOffsets(nar);
      const at = rng.chance(0.4) && offsets.length > 0 ? rng.pick(offsets) + rng.int(2) * 8 : rng.int(nar.length + 1);
      const end = Math.min(at, nar.length);
      return [nar.slice(0, end), `truncate at ${end}`];
    },
  ],
  [
    "insert bytes",
    2,
    (rng, nar) => {
      const aligned = rng.chance(0.5);
      const at = position(rng, nar.length, aligned);
      const r = rng.next();
      const inserted = r < 0.3 ? rng.bytes(1 + rng.int(16)) : r < 0.5 ? new Uint8Array(8 * (1 + rng.int(2))) : rng.pick(GRAMMAR_TOKENS);
      return [concat([nar.subarray(0, at), inserted, nar.subarray(at)]), `insert ${inserted.length} bytes at ${at}`];
    },
  ],
  [
    "delete bytes",
    2,
    (rng, nar) => {
      const aligned = rng.chance(0.5);
      const at = position(rng, nar.length, aligned);
      const n = aligned ? 8 * (1 + rng.int(3)) : 1 + rng.int(16);
      return [concat([nar.subarray(0, at), nar.subarray(Math.min(nar.length, at + n))]), `delete ${n} bytes at ${at}`];
    },
  ],
  [
    "duplicate a region",
    2,
    (rng, nar) => {
      const offsets = tokenOffsets(nar);
      let from: number;
      let to: number;
      if (rng.chance(0.6) && offsets.length > 1) {
        // Whole tokens, e.g. a directory entry's tokens repeated.
        const i = rng.int(offsets.length);
        const j = Math.min(offsets.length - 1, i + rng.int(12));
        from = offsets[i]!;
        to = tokenEnd(nar, offsets[j]!);
      } else {
        from = rng.int(nar.length + 1);
        to = Math.min(nar.length, from + 1 + rng.int(64));
      }
      const at = rng.chance(0.7) ? to : position(rng, nar.length, true);
      return [concat([nar.subarray(0, at), nar.subarray(from, to), nar.subarray(at)]), `duplicate [${from},${to}) at ${at}`];
    },
  ],
  [
    "swap two words",
    2,
    (rng, nar) => {
      const words = Math.floor(nar.length / 8);
      if (words < 2) return [nar.slice(), "swap (too short)"];
      const a = rng.int(words) * 8;
      const b = rng.int(words) * 8;
      const out = nar.slice();
      out.set(nar.subarray(a, a + 8), b);
      out.set(nar.subarray(b, b + 8), a);
      return [out, `swap words at ${a} and ${b}`];
    },
  ],
  [
    "swap two tokens",
    1,
    (rng, nar) => {
      const offsets = tokenOffsets(nar);
      if (offsets.length < 3) return [nar.slice(), "swap tokens (too few)"];
      let i = rng.int(offsets.length - 1);
      let j = rng.int(offsets.length - 1);
      if (i > j) [i, j] = [j, i];
      if (i === j) j = Math.min(offsets.length - 1, j + 1);
      const a0 = offsets[i]!;
      const a1 = tokenEnd(nar, a0);
      const b0 = offsets[j]!;
      const b1 = tokenEnd(nar, b0);
      if (a1 > b0) return [nar.slice(), "swap tokens (overlap)"];
      return [
        concat([nar.subarray(0, a0), nar.subarray(b0, b1), nar.subarray(a1, b0), nar.subarray(a0, a1), nar.subarray(b1)]),
        `swap tokens at ${a0} and ${b0}`,
      ];
    },
  ],
  [
    "replace a token",
    2,
    (rng, nar) => {
      const offsets = tokenOffsets(nar);
      if (offsets.length === 0) return [nar.slice(), "replace token (none)"];
      const at = rng.pick(offsets);
      const token = rng.pick(GRAMMAR_TOKENS);
      return [concat([nar.subarray(0, at), token, nar.subarray(tokenEnd(nar, at))]), `replace the token at ${at}`];
    },
  ],
  [
    "corrupt a length field",
    4,
    (rng, nar) => {
      const offsets = tokenOffsets(nar);
      if (offsets.length === 0) return [nar.slice(), "corrupt length (none)"];
      const at = rng.pick(offsets);
      const old = readU64(nar, at);
      const value = corruptLength(rng, old);
      const out = nar.slice();
      putU64(out, at, value);
      return [out, `length at ${at}: ${old} -> ${value}`];
    },
  ],
  [
    "splice two NARs",
    2,
    (rng, nar, corpus) => {
      const other = rng.pick(corpus).nar;
      const a = tokenOffsets(nar);
      const b = tokenOffsets(other);
      const cut = rng.chance(0.7) && a.length > 0 ? rng.pick(a) : rng.int(nar.length + 1);
      const from = rng.chance(0.7) && b.length > 0 ? rng.pick(b) : rng.int(other.length + 1);
      return [concat([nar.subarray(0, cut), other.subarray(from)]), `splice [0,${cut}) with another NAR from ${from}`];
    },
  ],
  [
    "trailing garbage",
    1,
    (rng, nar, corpus) => {
      const r = rng.next();
      const tail = r < 0.3 ? rng.bytes(1 + rng.int(24)) : r < 0.5 ? new Uint8Array(1 + rng.int(16)) : r < 0.8 ? rng.pick(GRAMMAR_TOKENS) : rng.pick(corpus).nar;
      return [concat([nar, tail]), `append ${tail.length} bytes`];
    },
  ],
];

const MUTATION_WEIGHT = MUTATIONS.reduce((sum, [, weight]) => sum + weight, 0);

function pickMutation(rng: Random): Mutation {
  let r = rng.int(MUTATION_WEIGHT);
  for (const [, weight, mutation] of MUTATIONS) {
    if (r < weight) return mutation;
    r -= weight;
  }
  return MUTATIONS[0]![2];
}

interface Case {
  readonly seed: Seed;
  readonly nar: Uint8Array;
  readonly steps: string[];
  /** Feed the NAR in pieces of these sizes (undefined: one buffer via bytesSource). */
  readonly pieces: number[] | undefined;
}

function makeCase(rng: Random, corpus: readonly Seed[], trees: readonly Seed[]): Case {
  // Mostly valid NARs of random trees, whose mutations reach deeper into the grammar.
  const seed = rng.chance(0.65) ? rng.pick(trees) : rng.pick(corpus);
  let nar: Uint8Array = seed.nar;
  const steps: string[] = [];
  const count = 1 + (rng.chance(0.3) ? 1 + rng.int(2) : 0);
  for (let i = 0; i < count; i++) {
    const [next, step] = pickMutation(rng)(rng, nar, corpus);
    nar = next;
    steps.push(step);
  }
  let pieces: number[] | undefined;
  if (rng.chance(0.25)) {
    pieces = [];
    for (let left = nar.length; left > 0; ) {
      // Now and then an empty chunk, as a pipe may deliver.
      const size = rng.chance(0.03) ? 0 : Math.min(left, 1 + rng.int(rng.chance(0.5) ? 9 : 200));
      pieces.push(size);
      left -= size;
    }
  }
  return { seed, nar, steps, pieces };
}

function sourceOf(nar: Uint8Array, pieces: number[] | undefined): ByteSource {
  if (pieces === undefined) return bytesSource(nar);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const size of pieces) {
    chunks.push(nar.slice(at, at + size));
    at += size;
  }
  if (at < nar.length) chunks.push(nar.slice(at));
  return new ChunkSource(chunks);
}

// ---- Jails --------------------------------------------------------------------------

/**
 * A jail is `<cage>/jail`; the target is `<jail>/target`. Anything but
 * `target` in the jail, or anything but `jail` in the cage, was written
 * outside the target.
 */
interface Jail {
  readonly cage: string;
  readonly jail: string;
  readonly target: string;
}

function makeJails(label: string, count: number): Jail[] {
  const root = scratchDir(label);
  return Array.from({ length: count }, (_, i) => {
    const cage = `${root}/cage${i}`;
    const jail = `${cage}/jail`;
    mkdirSync(jail, { recursive: true });
    return { cage, jail, target: `${jail}/target` };
  });
}

const TARGET = Buffer.from("target");
const JAIL = Buffer.from("jail");

/** Entry names as bytes (Bun returns Uint8Arrays here, not Buffers). */
function listNames(path: string): Buffer[] {
  const names = readdirSync(path, { encoding: "buffer" }) as unknown as Uint8Array[];
  return names.map((name) => Buffer.from(name.buffer, name.byteOffset, name.length));
}

/** What is in the jail besides the target (and in the cage besides the jail); empties both. */
function strays(jail: Jail): { stray: string[]; targetExists: boolean } {
  const stray: string[] = [];
  let targetExists = false;
  for (const name of listNames(jail.jail)) {
    if (name.equals(TARGET)) targetExists = true;
    else stray.push(`jail/${printableName(name)}`);
  }
  for (const name of listNames(jail.cage)) if (!name.equals(JAIL)) stray.push(`cage/${printableName(name)}`);
  return { stray, targetExists };
}

function resetJail(jail: Jail): void {
  rmSync(jail.cage, { recursive: true, force: true });
  mkdirSync(jail.jail, { recursive: true });
}

// ---- The property -------------------------------------------------------------------

interface Outcome {
  readonly accepted: boolean;
  readonly errorName: string | undefined;
  readonly problems: string[];
}

async function restoreCase(nar: Uint8Array, pieces: number[] | undefined, jail: Jail): Promise<Outcome> {
  const problems: string[] = [];
  let accepted = false;
  let error: unknown;
  try {
    await restoreNar(sourceOf(nar, pieces), jail.target, { requireEnd: true });
    accepted = true;
  } catch (e) {
    error = e;
  }
  if (!accepted && !(error instanceof BunixError)) problems.push(`threw something other than a BunixError: ${describeError(error)}`);
  const { stray, targetExists } = strays(jail);
  if (stray.length > 0) problems.push(`wrote outside the target: ${stray.join(", ")}`);
  if (!accepted && targetExists) problems.push(`the target was left behind after an error (${describeError(error)})`);
  if (accepted) {
    if (!targetExists) problems.push("accepted, but no target was created");
    else {
      const again = dump(jail.target);
      if (!again.equals(nar)) {
        let at = 0;
        while (at < again.length && at < nar.length && again[at] === nar[at]) at++;
        problems.push(`accepted, but re-dumping the target gives other bytes (${again.length} vs ${nar.length} bytes, first difference at ${at})`);
      }
    }
  }
  if (stray.length > 0) resetJail(jail);
  else if (targetExists) rmSync(jail.target, { recursive: true, force: true });
  const errorName = error instanceof Error ? error.constructor.name : error === undefined ? undefined : typeof error;
  return { accepted, errorName, problems };
}

/** Reads the NAR with NarReader directly; checks that an error poisons the reader. */
async function readerCase(rng: Random, nar: Uint8Array, pieces: number[] | undefined): Promise<{ problems: string[]; acceptedWhole: boolean }> {
  const problems: string[] = [];
  const source = sourceOf(nar, pieces);
  const reader = new NarReader(source);
  const iterator = reader[Symbol.asyncIterator]();
  let failure: unknown;
  let failed = false;
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done) break;
      const entry = step.value;
      // Read some files' contents (maybe only partly); let the reader skip the others.
      if (entry.type === "regular" && rng.chance(0.6)) {
        let total = 0;
        const partial = rng.chance(0.3);
        for await (const chunk of entry.contents()) {
          total += chunk.length;
          if (partial) break;
        }
        if (!partial && total !== entry.size) problems.push(`contents of '${printableName(entry.path)}' gave ${total} of ${entry.size} bytes`);
      }
    }
  } catch (e) {
    failed = true;
    failure = e;
  }
  if (failed) {
    if (!(failure instanceof BunixError)) problems.push(`NarReader threw something other than a BunixError: ${describeError(failure)}`);
    if (reader.done) problems.push("NarReader reports done after an error");
    // Poisoned: every later call throws the same error.
    for (let i = 0; i < 2; i++) {
      let again: unknown;
      let threw = false;
      try {
        await iterator.next();
      } catch (e) {
        threw = true;
        again = e;
      }
      if (!threw) problems.push(`next() #${i + 2} after an error did not throw`);
      else if (again !== failure) problems.push(`next() #${i + 2} after an error threw a different error: ${describeError(again)}`);
    }
    return { problems, acceptedWhole: false };
  }
  if (!reader.done) problems.push("NarReader ended without reporting done");
  return { problems, acceptedWhole: await source.atEnd() };
}

// ---- Mutated NARs -------------------------------------------------------------------

describe("mutated NARs against the reader and restorer", () => {
  const corpus = buildCorpus();
  const trees = corpus.filter((s) => s.label.startsWith("tree"));
  const jails = makeJails("nar-fuzz", 3);
  const perSeed = Math.ceil(TOTAL_CASES / SEEDS.length);

  test("the seed corpus: random trees restore and re-dump identically", async () => {
    expect(trees.length).toBeGreaterThanOrEqual(12);
    for (const seed of corpus) {
      const outcome = await restoreCase(seed.nar, undefined, jails[0]!);
      expect(outcome.problems).toEqual([]);
      if (seed.label.startsWith("tree") || seed.label.startsWith("nar-hashes") || seed.label.startsWith("hand")) {
        expect({ seed: seed.label, accepted: outcome.accepted }).toEqual({ seed: seed.label, accepted: true });
      }
    }
  });

  for (const seed of SEEDS) {
    if (ONLY !== undefined && ONLY.seed !== seed) continue;
    test(
      `seed ${hex(seed)}: ${ONLY ? 1 : perSeed} mutated NARs`,
      async () => {
        const failures: string[] = [];
        const stats = { accepted: 0, rejected: 0, reader: 0, errors: new Map<string, number>() };
        const first = ONLY ? ONLY.index : 0;
        const end = ONLY ? ONLY.index + 1 : perSeed;
        for (let index = first; index < end; index++) {
          const rng = new Random(caseSeed(seed, index));
          const c = makeCase(rng, corpus, trees);
          const jail = jails[index % jails.length]!;
          const problems: string[] = [];
          let outcome: Outcome;
          try {
            outcome = await restoreCase(c.nar, c.pieces, jail);
          } catch (error) {
            // The checks themselves failed (e.g. dumping the restored tree).
            outcome = { accepted: false, errorName: undefined, problems: [`checking the case failed: ${describeError(error)}`] };
            resetJail(jail);
          }
          problems.push(...outcome.problems);
          if (outcome.accepted) stats.accepted++;
          else {
            stats.rejected++;
            const name = outcome.errorName ?? "?";
            stats.errors.set(name, (stats.errors.get(name) ?? 0) + 1);
          }
          // Every fourth case also goes through NarReader on its own.
          if (index % 4 === 0) {
            stats.reader++;
            const read = await readerCase(rng, c.nar, c.pieces);
            problems.push(...read.problems);
            if (read.acceptedWhole !== outcome.accepted) {
              problems.push(`NarReader ${read.acceptedWhole ? "accepted" : "rejected"} the whole NAR but restore ${outcome.accepted ? "accepted" : "rejected"} it`);
            }
          }
          if (problems.length > 0) {
            const where = `seed ${hex(seed)} case ${index} (rerun: BUNIX_FUZZ_ONLY=${hex(seed)}:${index})`;
            const what = `from ${c.seed.label}: ${c.steps.join("; ")}${c.pieces ? ` [fed in ${c.pieces.length} pieces]` : ""}`;
            const nar = c.nar.length <= 4096 ? `\n  NAR (base64): ${Buffer.from(c.nar).toString("base64")}` : "";
            failures.push(`${where}\n  ${what}\n  ${problems.join("\n  ")}${nar}`);
            if (failures.length >= 20) break;
          }
        }
        if (process.env.BUNIX_FUZZ_VERBOSE) {
          console.log(`seed ${hex(seed)}: ${stats.accepted} accepted, ${stats.rejected} rejected, ${stats.reader} also read with NarReader;`, Object.fromEntries(stats.errors));
        }
        if (failures.length > 0) console.error(failures.join("\n\n"));
        expect(failures).toEqual([]);
        if (!ONLY && perSeed >= 200) {
          // The mutations must exercise both outcomes, or the fuzzing is pointless.
          expect(stats.accepted).toBeGreaterThan(perSeed / 50);
          expect(stats.rejected).toBeGreaterThan(perSeed / 2);
        }
      },
      600_000,
    );
  }
});

// ---- Targeted cases -----------------------------------------------------------------

async function expectRejected(nar: Uint8Array, jail: Jail, pattern?: RegExp, alsoInCage: string[] = []): Promise<void> {
  let error: unknown;
  try {
    await restoreNar(bytesSource(nar), jail.target, { requireEnd: true });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(BunixError);
  if (pattern) expect((error as Error).message).toMatch(pattern);
  const { stray, targetExists } = strays(jail);
  expect(stray).toEqual(alsoInCage.map((name) => `cage/${name}`));
  expect(targetExists).toBe(false);
}

describe("targeted malformed NARs", () => {
  const jails = makeJails("nar-fuzz-targeted", 1);
  const jail = jails[0]!;

  const BAD_NAMES: Array<[string, Uint8Array]> = [
    ["..", Buffer.from("..")],
    [".", Buffer.from(".")],
    ["a/b", Buffer.from("a/b")],
    ["../escape", Buffer.from("../escape")],
    ["/abs", Buffer.from("/abs")],
    ["empty", new Uint8Array(0)],
    ["NUL", Buffer.from([0x61, 0x00, 0x62])],
    ["lone NUL", Buffer.from([0x00])],
    ["256 bytes", Buffer.from("n".repeat(256))],
  ];

  for (const [label, name] of BAD_NAMES) {
    test(`entry name ${label} is rejected, wherever it is`, async () => {
      const shapes: NarNode[] = [
        dir([name, file("escaped")]),
        dir([name, dir(["inner", file("escaped")])]),
        dir([name, { type: "symlink", target: "/" }]),
        // After valid entries, so that a partial target exists when the error comes.
        dir(["0", file("first")], ["1", dir(["x", dir([name, file("escaped")])])]),
        dir(["a", dir(["b", dir([name, file("escaped")])])]),
      ];
      for (const shape of shapes) await expectRejected(narOf(shape), jail, /bad NAR at byte \d+: (invalid file name|file name is \d+ bytes long)/);
    });
  }

  test("unsorted entries are rejected", async () => {
    await expectRejected(narOf(dir(["b", file()], ["a", file()])), jail, /not sorted/);
    await expectRejected(narOf(dir(["a", file()], ["c", dir(["y", file()], ["x", file()])])), jail, /not sorted/);
    // Bytewise, not by locale or UTF-16: 'B' < 'a', 'z' < 'é'.
    await expectRejected(narOf(dir(["a", file()], ["B", file()])), jail, /not sorted/);
    await expectRejected(narOf(dir([Buffer.from("é"), file()], ["z", file()])), jail, /not sorted/);
  });

  test("duplicate entries are rejected", async () => {
    await expectRejected(narOf(dir(["a", file("1")], ["a", file("2")])), jail, /duplicate entry 'a'/);
    await expectRejected(narOf(dir(["a", dir()], ["a", dir(["x", file()])])), jail, /duplicate entry 'a'/);
    await expectRejected(narOf(dir(["a", file()], ["a", dir()])), jail, /duplicate entry 'a'/);
    await expectRejected(narOf(dir(["d", dir(["x", file()], ["x", file()])])), jail, /duplicate entry 'x' in directory 'd'/);
  });

  test("a symlink cannot be written through (the second entry of the same name is a duplicate)", async () => {
    const outside = `${jail.cage}/outside`;
    mkdirSync(outside);
    try {
      for (const target of [outside, "../..", "..", "../../outside", "/"]) {
        const nar = narOf(dir(["a", { type: "symlink", target }], ["a", dir(["planted", file("owned")])]));
        await expectRejected(nar, jail, /duplicate entry 'a'/, ["outside"]);
        expect(listNames(outside)).toEqual([]);
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test("other structural errors are BunixErrors at a byte offset", async () => {
    const valid = narOf(dir(["a", file("hello")], ["b", { type: "symlink", target: "a" }]));
    const cases: Array<[Uint8Array, RegExp]> = [
      [valid.subarray(0, valid.length - 8), /unexpected end-of-file/],
      [concat([valid, new Uint8Array(8)]), /trailing data/],
      [narOf({ type: "symlink", target: "" }), /symlink target is empty/],
      [narOf({ type: "symlink", target: Buffer.from([0x61, 0, 0x62]) }), /symlink target contains a NUL byte/],
      [narOf({ type: "symlink", target: "t".repeat(4096) }), /symlink target is 4096 bytes long/],
    ];
    for (const [nar, pattern] of cases) await expectRejected(nar, jail, pattern);
    // File sizes: 2^53 and more are refused as such, smaller ones run out of input.
    const sizeAt = Buffer.from(valid).indexOf(TOKEN.contents) + TOKEN.contents.length;
    const sizes: Array<[number, RegExp]> = [
      [2 ** 53, /at byte \d+: length field is larger than 2\^53/],
      [2 ** 64 - 1, /at byte \d+: length field is larger than 2\^53/],
      [2 ** 53 - 1, /unexpected end-of-file/],
      [2 ** 32, /unexpected end-of-file/],
    ];
    for (const [size, pattern] of sizes) {
      const huge = valid.slice();
      putU64(huge, sizeAt, size);
      await expectRejected(huge, jail, pattern);
    }
  });

  test("restoring into an existing target is refused and leaves it untouched", async () => {
    const nar = narOf(dir(["a", file("new")]));
    const before = (): string => {
      const stat = lstatSync(jail.target);
      if (stat.isSymbolicLink()) return `link ${readlinkSync(jail.target)}`;
      if (stat.isDirectory()) return `dir ${listNames(jail.target).map(printableName).join(",")}`;
      return `file ${readFileSync(jail.target).toString("latin1")}`;
    };
    const setups: Array<() => void> = [
      () => writeFileSync(jail.target, "old contents"),
      () => {
        mkdirSync(jail.target);
        writeFileSync(`${jail.target}/kept`, "kept");
      },
      () => mkdirSync(jail.target),
      () => symlinkSync("dangling-nowhere", jail.target),
      () => symlinkSync(jail.cage, jail.target),
    ];
    for (const setup of setups) {
      setup();
      const snapshot = before();
      const dumped = dump(jail.target);
      let error: unknown;
      try {
        await restoreNar(bytesSource(nar), jail.target, { requireEnd: true });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BunixError);
      expect((error as Error).message).toMatch(/already exists/);
      expect(before()).toBe(snapshot);
      expect(dump(jail.target).equals(dumped)).toBe(true);
      expect(listNames(jail.cage).map(printableName)).toEqual(["jail"]);
      rmSync(jail.target, { recursive: true, force: true });
    }
  });
});

describe("NarReader errors poison the reader", () => {
  const valid = narOf(dir(["a", file("hello world")], ["b", dir(["c", { type: "symlink", target: "../a" }])]));

  async function drain(iterator: AsyncIterator<unknown>): Promise<unknown> {
    try {
      for (;;) if ((await iterator.next()).done) return undefined;
    } catch (error) {
      return error;
    }
  }

  test("a structural error is thrown again by every later next()", async () => {
    const broken = valid.slice();
    // Turn the second entry's name 'b' into '/'.
    const at = Buffer.from(broken).indexOf(encodeString("b"));
    broken[at + 8] = 0x2f;
    const reader = new NarReader(bytesSource(broken));
    const iterator = reader[Symbol.asyncIterator]();
    const error = await drain(iterator);
    expect(error).toBeInstanceOf(NarFormatError);
    await expect(iterator.next()).rejects.toBe(error);
    await expect(iterator.next()).rejects.toBe(error);
    expect(reader.done).toBe(false);
  });

  test("an error while reading contents poisons the reader too", async () => {
    // Cut inside the contents of 'a'.
    const cut = Buffer.from(valid).indexOf(Buffer.from("hello")) + 3;
    const reader = new NarReader(bytesSource(valid.subarray(0, cut)));
    const iterator = reader[Symbol.asyncIterator]();
    await iterator.next(); // the root directory
    const step = await iterator.next();
    expect(step.done).toBe(false);
    const entry = step.value;
    if (entry.type !== "regular") throw new Error("expected the regular file 'a'");
    let error: unknown;
    try {
      for await (const _ of entry.contents()) {
        // consume
      }
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BunixError);
    await expect(iterator.next()).rejects.toBe(error);
    await expect(iterator.next()).rejects.toBe(error);
  });

  test("mutations of a valid NAR: the first error repeats", async () => {
    const rng = new Random(0x706f6973);
    let errors = 0;
    for (let i = 0; i < 300; i++) {
      const [nar] = pickMutation(rng)(rng, valid, [{ label: "valid", nar: valid }]);
      const read = await readerCase(rng, nar, rng.chance(0.5) ? [1, 7, 8, 9, 1000] : undefined);
      expect(read.problems).toEqual([]);
      if (!read.acceptedWhole) errors++;
    }
    expect(errors).toBeGreaterThan(100);
  });

  test("a reader can only be iterated once", () => {
    const reader = new NarReader(bytesSource(valid));
    reader[Symbol.asyncIterator]();
    expect(() => reader[Symbol.asyncIterator]()).toThrow(BunixError);
  });
});
