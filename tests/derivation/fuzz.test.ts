// Fuzzing the derivation parsers: thousands of mutated .drv texts (byte
// flips, deletions, insertions of ATerm punctuation and escapes, truncations,
// duplicated, swapped and deleted list elements, replaced strings, random
// bytes including 0x00 and 0xff) and mutated show-derivation JSON texts.
//
// parseDerivation either throws a BunixError or returns a derivation that
// prints, re-parses and prints again to the same text; validateDerivation and
// derivationPath on it succeed or throw a BunixError. parseDerivationJson
// likewise only succeeds or throws a BunixError.
//
// Reproducible: each case has its own PRNG seeded from (seed, index).
// BUNIX_FUZZ_CASES=N sets the number of mutated .drv texts (default 24000;
// the JSON fuzzing runs half as many); BUNIX_FUZZ_ONLY=<seed>:<index>
// re-runs the one case a failure names.
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BunixError } from "../../internal/errors.ts";
import { DerivationParseError, parseDerivation } from "../../internal/derivation/aterm-parse.ts";
import { derivationBytes, printDerivation } from "../../internal/derivation/aterm-write.ts";
import { parseDerivationJson, showDerivations } from "../../internal/derivation/json.ts";
import { derivationPath } from "../../internal/derivation/output-paths.ts";
import { type Derivation, DerivationError, toUtf8 } from "../../internal/derivation/types.ts";
import { validateDerivation } from "../../internal/derivation/validate.ts";
import { caseSeed, concat, describeError, envCount, hex, parseOnly, printable } from "../helpers/fuzz.ts";
import { Random } from "../helpers/random.ts";

// ---- Configuration ---------------------------------------------------------------


const TOTAL_CASES = envCount("BUNIX_FUZZ_CASES", 24000);
const ATERM_SEEDS = [0x64727601, 0x64727602, 0x64727603] as const;
const JSON_SEEDS = [0x6a736e01, 0x6a736e02] as const;
const STORE = "/nix/store";

const ONLY = parseOnly(process.env.BUNIX_FUZZ_ONLY);






// ---- Seeds --------------------------------------------------------------------------

const DIR = join(import.meta.dir, "../fixtures/drvs");
const DRV_FILES = readdirSync(DIR)
  .filter((name) => name.endsWith(".drv"))
  .sort();
const DRVS: ReadonlyArray<{ name: string; bytes: Uint8Array }> = DRV_FILES.map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(DIR, name))) }));
const JSONS: ReadonlyArray<{ name: string; text: string }> = readdirSync(DIR)
  .filter((name) => name.endsWith(".show-derivation.json"))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(DIR, name), "utf8") }));

// ---- ATerm structure (for element-level mutations) ----------------------------------

/** The element spans [start, end) of one list or tuple. */
type Group = Array<readonly [number, number]>;

/**
 * Finds the lists and tuples of an ATerm text and the spans of their
 * elements, leniently: on a syntax error it returns what it found so far.
 */
function structure(bytes: Uint8Array): { groups: Group[]; strings: Array<readonly [number, number]> } {
  const groups: Group[] = [];
  const strings: Array<readonly [number, number]> = [];
  let at = 0;
  const fail = (): never => {
    throw new RangeError("syntax");
  };
  const value = (): void => {
    const c = bytes[at];
    if (c === 0x22) {
      const start = at++;
      while (at < bytes.length && bytes[at] !== 0x22) at += bytes[at] === 0x5c ? 2 : 1;
      if (at >= bytes.length) fail();
      at++;
      strings.push([start, at]);
      return;
    }
    while (at < bytes.length && bytes[at]! >= 0x41 && bytes[at]! <= 0x7a) at++; // "Derive"
    const open = bytes[at];
    if (open !== 0x5b && open !== 0x28) fail();
    const close = open === 0x5b ? 0x5d : 0x29;
    at++;
    const group: Group = [];
    groups.push(group);
    if (bytes[at] === close) {
      at++;
      return;
    }
    for (;;) {
      const start = at;
      value();
      group.push([start, at]);
      if (bytes[at] === 0x2c) at++;
      else if (bytes[at] === close) {
        at++;
        return;
      } else fail();
    }
  };
  try {
    value();
  } catch {
    // partial structure
  }
  return { groups, strings };
}


const ascii = (text: string): Uint8Array => Buffer.from(text, "latin1");

// ---- Mutations --------------------------------------------------------------------

const SPECIALS = ['"', "\\", ",", "(", ")", "[", "]"].map(ascii);
const ESCAPES = ['\\"', "\\\\", "\\n", "\\r", "\\t", "\\x", "\\", '"', '\\\\"', "\n", "\t", "\r"].map(ascii);
const INTERESTING_BYTES = [0x00, 0xff, 0x80, 0x7f, 0x01, 0x0a, 0x22, 0x5c, 0x2c, 0x28, 0x29, 0x5b, 0x5d, 0x2f];
/** Values that reach deeper into validation: names, paths, hash algorithms and digests. */
const INTERESTING_STRINGS = [
  "",
  "out",
  "dev",
  "drv",
  "impure",
  "r:sha256",
  "sha256",
  "r:sha1",
  "sha1",
  "md5",
  "sha512",
  "r:md5",
  "text:sha256",
  "SHA256",
  "r:",
  "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
  "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq",
  "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoaiJ69mvgM=",
  "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoaiJ69mvgM=",
  "d3b07384d113edec49eaa6238ad5ff00",
  "da39a3ee5e6b4b0d3255bfef95601890afd80709",
  "/nix/store/v17r5l1xbgiqdravaj0dra2js09d47h6-plain.drv",
  "/nix/store/91dkhdfrdzngb4m62zak427y2vpamanj-plain",
  "/nix/store/91dkhdfrdzngb4m62zak427y2vpamanj-",
  "/nix/store/91dkhdfrdzngb4m62zak427y2vpamanj",
  "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x.drv",
  "/nix/store/../etc/passwd",
  "/nix/store/",
  "/nix/store",
  "/",
  "//nix//store//91dkhdfrdzngb4m62zak427y2vpamanj-plain/",
  "relative/path",
  "/other/store/91dkhdfrdzngb4m62zak427y2vpamanj-plain",
  `/nix/store/91dkhdfrdzngb4m62zak427y2vpamanj-${"n".repeat(212)}`,
  "x86_64-linux",
  "\u00ff\u0000\u0080",
  "__proto__",
  "constructor",
];

type Mutation = (rng: Random, text: Uint8Array) => [Uint8Array, string];

function insertAt(text: Uint8Array, at: number, inserted: Uint8Array): Uint8Array {
  return concat([text.subarray(0, at), inserted, text.subarray(at)]);
}

const ATERM_MUTATIONS: ReadonlyArray<readonly [number, Mutation]> = [
  [
    2,
    (rng, text) => {
      const out = text.slice();
      const n = 1 + rng.int(3);
      const at: number[] = [];
      for (let i = 0; i < n && out.length > 0; i++) {
        const p = rng.int(out.length);
        out[p]! ^= 1 << rng.int(8);
        at.push(p);
      }
      return [out, `flip bits at ${at.join(",")}`];
    },
  ],
  [
    2,
    (rng, text) => {
      const out = text.slice();
      const p = rng.int(Math.max(1, out.length));
      if (out.length > 0) out[p] = rng.chance(0.6) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
      return [out, `overwrite byte ${p}`];
    },
  ],
  [
    2,
    (rng, text) => {
      const at = rng.int(text.length + 1);
      const n = 1 + rng.int(rng.chance(0.8) ? 2 : 16);
      return [concat([text.subarray(0, at), text.subarray(Math.min(text.length, at + n))]), `delete ${n} bytes at ${at}`];
    },
  ],
  [
    3,
    (rng, text) => {
      const at = rng.int(text.length + 1);
      const inserted = rng.pick(SPECIALS);
      return [insertAt(text, at, inserted), `insert '${printable(inserted)}' at ${at}`];
    },
  ],
  [
    2,
    (rng, text) => {
      const at = rng.int(text.length + 1);
      const inserted = rng.chance(0.5) ? Uint8Array.of(rng.pick([0x00, 0xff, 0x80, 0x0a])) : rng.bytes(1 + rng.int(6));
      return [insertAt(text, at, inserted), `insert bytes ${printable(inserted)} at ${at}`];
    },
  ],
  [
    1,
    (rng, text) => {
      const at = rng.int(text.length + 1);
      return [text.slice(0, at), `truncate at ${at}`];
    },
  ],
  [
    3,
    (rng, text) => {
      // An escape or quote inside a string: raw fields (paths, names, platform) and escaped ones alike.
      const { strings } = structure(text);
      if (strings.length === 0) return [text.slice(), "escape (no strings)"];
      const [start, end] = rng.pick(strings);
      const at = start + 1 + rng.int(Math.max(1, end - start - 1));
      const inserted = rng.pick(ESCAPES);
      return [insertAt(text, at, inserted), `insert '${printable(inserted)}' into the string at ${start}`];
    },
  ],
  [
    3,
    (rng, text) => {
      const { groups } = structure(text);
      const nonEmpty = groups.filter((g) => g.length > 0);
      if (nonEmpty.length === 0) return [text.slice(), "duplicate (no elements)"];
      const [start, end] = rng.pick(rng.pick(nonEmpty));
      const copy = text.slice(start, end);
      const comma = ascii(",");
      return rng.chance(0.5)
        ? [insertAt(text, end, concat([comma, copy])), `duplicate the element at ${start} after it`]
        : [insertAt(text, start, concat([copy, comma])), `duplicate the element at ${start} before it`];
    },
  ],
  [
    3,
    (rng, text) => {
      const { groups } = structure(text);
      const pairs = groups.filter((g) => g.length > 1);
      if (pairs.length === 0) return [text.slice(), "swap (no pairs)"];
      const group = rng.pick(pairs);
      let i = rng.int(group.length);
      let j = rng.int(group.length - 1);
      if (j >= i) j++;
      if (i > j) [i, j] = [j, i];
      const [a0, a1] = group[i]!;
      const [b0, b1] = group[j]!;
      return [
        concat([text.subarray(0, a0), text.subarray(b0, b1), text.subarray(a1, b0), text.subarray(a0, a1), text.subarray(b1)]),
        `swap the elements at ${a0} and ${b0}`,
      ];
    },
  ],
  [
    2,
    (rng, text) => {
      const { groups } = structure(text);
      const nonEmpty = groups.filter((g) => g.length > 0);
      if (nonEmpty.length === 0) return [text.slice(), "delete (no elements)"];
      const group = rng.pick(nonEmpty);
      const i = rng.int(group.length);
      const [start, end] = group[i]!;
      // With its comma, so that the list stays well formed (or without, to break it).
      const keepComma = rng.chance(0.2);
      const from = keepComma ? start : i > 0 ? group[i - 1]![1] : start;
      const to = keepComma || i > 0 ? end : i + 1 < group.length ? group[i + 1]![0] : end;
      return [concat([text.subarray(0, from), text.subarray(to)]), `delete the element at ${start}`];
    },
  ],
  [
    4,
    (rng, text) => {
      // Replace a string with an interesting value or with another string of the text.
      const { strings } = structure(text);
      if (strings.length === 0) return [text.slice(), "replace (no strings)"];
      const [start, end] = rng.pick(strings);
      const replacement = rng.chance(0.6) ? ascii(`"${rng.pick(INTERESTING_STRINGS)}"`) : (() => {
        const [s, e] = rng.pick(strings);
        return text.slice(s, e);
      })();
      return [concat([text.subarray(0, start), replacement, text.subarray(end)]), `replace the string at ${start} with ${printable(replacement)}`];
    },
  ],
  [
    1,
    (rng, text) => {
      // Splice with another derivation at element boundaries.
      const other = rng.pick(DRVS).bytes;
      const a = structure(text).groups.flat();
      const b = structure(other).groups.flat();
      const cut = a.length > 0 ? rng.pick(a)[rng.int(2)]! : rng.int(text.length + 1);
      const from = b.length > 0 ? rng.pick(b)[rng.int(2)]! : rng.int(other.length + 1);
      return [concat([text.subarray(0, cut), other.subarray(from)]), `splice [0,${cut}) with another .drv from ${from}`];
    },
  ],
];

function pick<T>(rng: Random, weighted: ReadonlyArray<readonly [number, T]>): T {
  let r = rng.int(weighted.reduce((sum, [w]) => sum + w, 0));
  for (const [w, item] of weighted) {
    if (r < w) return item;
    r -= w;
  }
  return weighted[0]![1];
}

// ---- Properties ---------------------------------------------------------------------

/** A derivation as plain data, for deep comparisons. */
function plainDerivation(drv: Derivation): unknown {
  return {
    outputs: [...drv.outputs].map(([name, o]) => [name, o.path, o.hashAlgo, o.hash]),
    inputDrvs: [...drv.inputDrvs].map(([path, names]) => [path, [...names]]),
    inputSrcs: [...drv.inputSrcs],
    platform: drv.platform,
    builder: drv.builder,
    args: [...drv.args],
    env: [...drv.env],
  };
}

/** Runs `f`; a thrown error that is not a BunixError is a problem. */
function bunixOnly<T>(problems: string[], what: string, f: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    if (!(error instanceof BunixError)) problems.push(`${what} threw something other than a BunixError: ${describeError(error)}`);
    return { ok: false };
  }
}

/** validateDerivation and derivationPath succeed or throw BunixErrors. */
function checkSemantics(problems: string[], drv: Derivation): void {
  bunixOnly(problems, "validateDerivation", () => validateDerivation(drv, STORE));
  bunixOnly(problems, "derivationPath", () => derivationPath(drv, "x", STORE));
}

interface AtermOutcome {
  readonly accepted: boolean;
  readonly identical: boolean;
  readonly errorName: string;
  readonly problems: string[];
}

function atermCase(text: Uint8Array): AtermOutcome {
  const problems: string[] = [];
  let drv: Derivation | undefined;
  let errorName = "";
  try {
    drv = parseDerivation(text);
  } catch (error) {
    errorName = error instanceof Error ? error.constructor.name : typeof error;
    if (!(error instanceof BunixError)) problems.push(`parseDerivation threw something other than a BunixError: ${describeError(error)}`);
    else if (!(error instanceof DerivationError)) problems.push(`parseDerivation threw a ${errorName}, not a DerivationError: ${error.message}`);
  }
  if (drv === undefined) return { accepted: false, identical: false, errorName, problems };

  const printed = derivationBytes(drv);
  const identical = Buffer.from(printed).equals(Buffer.from(text));
  try {
    const again = parseDerivation(printed);
    if (printDerivation(again) !== printDerivation(drv)) problems.push("the re-parsed derivation prints differently");
    expect(plainDerivation(again)).toEqual(plainDerivation(drv));
  } catch (error) {
    problems.push(`re-parsing the printed derivation failed: ${describeError(error)}\n  printed: ${printable(printed)}`);
  }
  checkSemantics(problems, drv);
  return { accepted: true, identical, errorName, problems };
}

function report(seed: number, index: number, what: string, input: string, problems: string[]): string {
  return `seed ${hex(seed)} case ${index} (rerun: BUNIX_FUZZ_ONLY=${hex(seed)}:${index})\n  ${what}\n  ${problems.join("\n  ")}\n  input: ${input}`;
}

// ---- Mutated .drv texts -------------------------------------------------------------

describe("mutated .drv texts", () => {
  const perSeed = Math.ceil(TOTAL_CASES / ATERM_SEEDS.length);

  test("the seeds parse and print back byte for byte", () => {
    expect(DRVS.length).toBeGreaterThanOrEqual(10);
    for (const { name, bytes } of DRVS) {
      const outcome = atermCase(bytes);
      expect({ name, ...outcome }).toEqual({ name, accepted: true, identical: true, errorName: "", problems: [] });
    }
  });

  for (const seed of ATERM_SEEDS) {
    if (ONLY !== undefined && ONLY.seed !== seed) continue;
    test(
      `seed ${hex(seed)}: ${ONLY ? 1 : perSeed} mutated .drv texts`,
      () => {
        const failures: string[] = [];
        const stats = { accepted: 0, identical: 0, rejected: 0, errors: new Map<string, number>() };
        const first = ONLY ? ONLY.index : 0;
        const end = ONLY ? ONLY.index + 1 : perSeed;
        for (let index = first; index < end; index++) {
          const rng = new Random(caseSeed(seed, index));
          const source = rng.pick(DRVS);
          let text = source.bytes;
          const steps: string[] = [];
          const count = 1 + (rng.chance(0.3) ? 1 + rng.int(3) : 0);
          for (let i = 0; i < count; i++) {
            const [next, step] = pick(rng, ATERM_MUTATIONS)(rng, text);
            text = next;
            steps.push(step);
          }
          const outcome = atermCase(text);
          if (outcome.accepted) {
            stats.accepted++;
            if (outcome.identical) stats.identical++;
          } else {
            stats.rejected++;
            stats.errors.set(outcome.errorName, (stats.errors.get(outcome.errorName) ?? 0) + 1);
          }
          if (outcome.problems.length > 0) {
            failures.push(report(seed, index, `from ${source.name}: ${steps.join("; ")}`, printable(text), outcome.problems));
            if (failures.length >= 20) break;
          }
        }
        if (process.env.BUNIX_FUZZ_VERBOSE) {
          console.log(
            `seed ${hex(seed)}: ${stats.accepted} accepted (${stats.identical} byte-identical when printed), ${stats.rejected} rejected;`,
            Object.fromEntries(stats.errors),
          );
        }
        if (failures.length > 0) console.error(failures.join("\n\n"));
        expect(failures).toEqual([]);
        if (!ONLY && perSeed >= 300) {
          expect(stats.accepted).toBeGreaterThan(perSeed / 50);
          expect(stats.rejected).toBeGreaterThan(perSeed / 2);
        }
      },
      600_000,
    );
  }
});

// ---- Mutated show-derivation JSON ---------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isRecord(value: Json): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const ODD_JSON_VALUES: readonly Json[] = [null, true, false, 0, -1, 1.5, 1e308, "", "out", "\u0000", "\ud800", "é", [], {}, ["out"], { path: "" }, [1], "impure"];

/** A fresh copy of an odd value (a shared one could be inserted into itself). */
function oddValue(rng: Random): Json {
  return structuredClone(rng.pick(ODD_JSON_VALUES));
}

/** Every array and object in the document. */
function containers(root: Json): Array<Json[] | { [key: string]: Json }> {
  const out: Array<Json[] | { [key: string]: Json }> = [];
  const walk = (node: Json): void => {
    if (Array.isArray(node)) {
      out.push(node);
      node.forEach(walk);
    } else if (isRecord(node)) {
      out.push(node);
      Object.values(node).forEach(walk);
    }
  };
  walk(root);
  return out;
}

/** Changes the parsed document: deletes, adds, retypes or duplicates a value, or renames a key. */
function mutateDocument(rng: Random, document: Json): string {
  const all = containers(document);
  if (all.length === 0) return "no containers";
  const node = rng.pick(all);
  const r = rng.next();
  if (Array.isArray(node)) {
    if (node.length > 0 && r < 0.3) {
      node.splice(rng.int(node.length), 1);
      return "delete an array element";
    }
    if (node.length > 0 && r < 0.6) {
      const i = rng.int(node.length);
      node.splice(i, 0, structuredClone(node[i]!));
      return "duplicate an array element";
    }
    node.splice(rng.int(node.length + 1), 0, oddValue(rng));
    return "insert an array element";
  }
  const keys = Object.keys(node);
  if (keys.length > 0 && r < 0.25) {
    delete node[rng.pick(keys)];
    return "delete a key";
  }
  if (keys.length > 0 && r < 0.6) {
    const key = rng.pick(keys);
    node[key] = oddValue(rng);
    return `retype '${key}'`;
  }
  if (keys.length > 0 && r < 0.8) {
    const key = rng.pick(keys);
    const value = node[key]!;
    delete node[key];
    node[rng.pick(["", "drv", "Out", "__proto__", "hashAlgo", "extra", `${key}x`, "impure"])] = value;
    return `rename '${key}'`;
  }
  node[rng.pick(["extra", "impure", "hash", "path", "hashAlgo", "outputs", "__proto__"])] = oddValue(rng);
  return "add a key";
}

const JSON_TEXT_SPECIALS = ['"', "\\", ",", "{", "}", "[", "]", ":", "\\u0000", "\\ud800", "null", "\u0000", "\u00ff"];

function mutateJsonText(rng: Random, text: string): [string, string] {
  const at = rng.int(text.length + 1);
  const r = rng.next();
  if (r < 0.3) {
    const inserted = rng.pick(JSON_TEXT_SPECIALS);
    return [text.slice(0, at) + inserted + text.slice(at), `insert ${JSON.stringify(inserted)} at ${at}`];
  }
  if (r < 0.55) {
    const n = 1 + rng.int(4);
    return [text.slice(0, at) + text.slice(at + n), `delete ${n} at ${at}`];
  }
  if (r < 0.75 && text.length > 0) {
    const p = rng.int(text.length);
    const c = String.fromCharCode(text.charCodeAt(p) ^ (1 << rng.int(7)));
    return [text.slice(0, p) + c + text.slice(p + 1), `flip a bit at ${p}`];
  }
  if (r < 0.85) return [text.slice(0, at), `truncate at ${at}`];
  const bytes = String.fromCharCode(...rng.bytes(1 + rng.int(4)));
  return [text.slice(0, at) + bytes + text.slice(at), `insert random characters at ${at}`];
}

function jsonCase(text: string): { accepted: boolean; problems: string[] } {
  const problems: string[] = [];
  const parsed = bunixOnly(problems, "parseDerivationJson", () => parseDerivationJson(text));
  if (!parsed.ok) return { accepted: false, problems };
  const { drvPath, derivation } = parsed.value;
  checkSemantics(problems, derivation);
  // The JSON printer and reader are inverse: print it and read it back.
  try {
    const shown = toUtf8(showDerivations([[drvPath ?? "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x.drv", derivation]]));
    const again = parseDerivationJson(shown).derivation;
    expect(plainDerivation(again)).toEqual(plainDerivation(derivation));
  } catch (error) {
    problems.push(`show-derivation JSON of the parsed derivation does not read back: ${describeError(error)}`);
  }
  return { accepted: true, problems };
}

describe("mutated show-derivation JSON", () => {
  const perSeed = Math.ceil(TOTAL_CASES / 2 / JSON_SEEDS.length);

  test("the seeds parse", () => {
    expect(JSONS.length).toBeGreaterThanOrEqual(10);
    for (const { name, text } of JSONS) expect({ name, ...jsonCase(text) }).toEqual({ name, accepted: true, problems: [] });
  });

  for (const seed of JSON_SEEDS) {
    if (ONLY !== undefined && ONLY.seed !== seed) continue;
    test(
      `seed ${hex(seed)}: ${ONLY ? 1 : perSeed} mutated JSON texts`,
      () => {
        const failures: string[] = [];
        let accepted = 0;
        const first = ONLY ? ONLY.index : 0;
        const end = ONLY ? ONLY.index + 1 : perSeed;
        for (let index = first; index < end; index++) {
          const rng = new Random(caseSeed(seed, index));
          const source = rng.pick(JSONS);
          const steps: string[] = [];
          let text = source.text;
          // Half the cases change the document's structure (valid JSON, wrong shape), half its text.
          if (rng.chance(0.5)) {
            const document = JSON.parse(text) as Json;
            const body = isRecord(document) && rng.chance(0.5) ? Object.values(document)[0]! : document;
            const count = 1 + rng.int(3);
            for (let i = 0; i < count; i++) steps.push(mutateDocument(rng, body));
            text = JSON.stringify(body, null, rng.chance(0.5) ? 2 : undefined);
          }
          const textMutations = steps.length > 0 ? rng.int(2) : 1 + rng.int(3);
          for (let i = 0; i < textMutations; i++) {
            const [next, step] = mutateJsonText(rng, text);
            text = next;
            steps.push(step);
          }
          const outcome = jsonCase(text);
          if (outcome.accepted) accepted++;
          if (outcome.problems.length > 0) {
            failures.push(report(seed, index, `from ${source.name}: ${steps.join("; ")}`, JSON.stringify(text), outcome.problems));
            if (failures.length >= 20) break;
          }
        }
        if (process.env.BUNIX_FUZZ_VERBOSE) console.log(`seed ${hex(seed)}: ${accepted} of ${end - first} JSON texts accepted`);
        if (failures.length > 0) console.error(failures.join("\n\n"));
        expect(failures).toEqual([]);
        if (!ONLY && perSeed >= 300) {
          expect(accepted).toBeGreaterThan(perSeed / 50);
          expect(accepted).toBeLessThan(perSeed);
        }
      },
      600_000,
    );
  }
});

// ---- Targeted cases -----------------------------------------------------------------

describe("targeted .drv texts", () => {
  const plain = readFileSync(join(DIR, "plain.drv"), "latin1");

  test("errors are DerivationParseErrors with a byte offset", () => {
    const cases = [
      "",
      "Derive(",
      plain.slice(0, -1),
      `${plain} `,
      `${plain}\n`,
      plain.replace('"x86_64-linux"', '"x86_64-linux'),
      plain.replace("[]", "[,]"),
      plain.replace('["-c","echo hello > $out"]', '["-c""echo hello > $out"]'),
      plain.replace('("builder","/bin/sh"),("name","plain")', '("name","plain"),("builder","/bin/sh")'),
      plain.replace('("name","plain")', '("name","plain"),("name","plain")'),
      "\u0000",
      "\u00ff",
    ];
    for (const text of cases) {
      let error: unknown;
      try {
        parseDerivation(text);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DerivationParseError);
      expect((error as Error).message).toMatch(/^malformed derivation at byte \d+: /);
    }
  });

  test("a backslash in a field Nix writes unescaped is refused (it would not print back)", () => {
    // Each of these decoded to a value that printed as a different or unparsable text.
    const cases: Array<[string, string, RegExp]> = [
      ['"x86_64-linux"', '"x86_64-linux\\""', /byte 94: backslash in the platform/],
      ['"x86_64-linux"', '"x86\\_64-linux"', /backslash in the platform/],
      ['("out","/nix', '("o\\ut","/nix', /byte 11: backslash in the output name/],
      ['"","")]', '"","\\"")]', /backslash in the output hash,/],
      ["-plain\",\"\"", "-plain\",\"\\n\"", /backslash in the output hash algorithm/],
    ];
    for (const [from, to, pattern] of cases) {
      const text = plain.replace(from, to);
      expect(text).not.toBe(plain);
      expect(() => parseDerivation(text)).toThrow(pattern);
    }
    // Escaped fields (builder, args, env) still decode their escapes.
    const escaped = parseDerivation(plain.replace('"echo hello > $out"', '"echo \\"hi\\"\\n\\\\"'));
    expect(escaped.args[1]).toBe('echo "hi"\n\\');
  });
});
