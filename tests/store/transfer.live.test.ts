// Live differential tests of the exchange formats: real `nix-store --export`
// streams from a store that real Nix built and filled are imported by bunix
// (and the other way round), `--dump-db` / `--load-db` / `--register-validity`
// are compared with Nix's, and malformed streams leave the same valid paths
// as Nix leaves, with nothing half-imported. Every store is a throw-away root.
import { Database } from "bun:sqlite";
import { beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, requireNix, run, runOk } from "../helpers/nix.ts";
import { Random } from "../helpers/random.ts";
import { writeRandomTree } from "../helpers/random-tree.ts";
import { scratchDir } from "../helpers/tmp.ts";

const EXPR = [
  "let",
  '  mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);',
  '  src = builtins.toFile "src.txt" "some source\\n";',
  '  a = mk { name = "a"; args = [ "-c" "mkdir -p $out/bin $out/empty; echo hello > $out/data; echo \'#!/bin/sh\' > $out/bin/x; chmod +x $out/bin/x; ln -s data $out/link; ln -s /nix/store/dangling $out/dangling" ]; };',
  '  b = mk { name = "b"; inherit src; args = [ "-c" "echo ${a} $src > $out" ]; };',
  '  c = mk { name = "c"; outputs = [ "out" "dev" "lib" ]; args = [ "-c" "echo ${b} $dev > $out; echo ${a} > $dev; mkdir $lib; echo $lib > $lib/self" ]; };',
  '  big = mk { name = "big"; args = [ "-c" "seq 1 300000 > $out" ]; };',
  '  self = mk { name = "self"; args = [ "-c" "mkdir $out; echo $out > $out/me; ln -s $out/me $out/link" ]; };',
  '  top = mk { name = "top"; deps = [ c.out c.dev c.lib big self ]; args = [ "-c" "echo $deps > $out" ]; };',
  "in { inherit a b c big self top; }",
].join("\n");

let bunix: string;
let dir: string;
/** The store real Nix built and filled. */
let source: string;
/** Every valid path of `source`, sorted. */
let paths: string[];
/** Nix's `--dump-db` of `source`. */
let nixDump: string;
/** Nix's export of all paths of `source`. */
let nixStream: Buffer;

const nixStore = (store: string, ...args: string[]) => ["nix-store", "--store", store, ...args];
const ours = (store: string, ...args: string[]) => [bunix, "nix-store", "--store", store, ...args];
const lines = (b: Buffer) => b.toString("latin1").split("\n").filter((l) => l !== "");
let counter = 0;
const newRoot = (label: string) => join(dir, `${label}-${counter++}`);

/** Path lines of a --dump-db text (an independent little parser: path, hash, size, deriver, n, refs). */
function dumpBlocks(text: string): Array<{ path: string; lines: string[] }> {
  const all = text.split("\n");
  all.pop();
  const blocks: Array<{ path: string; lines: string[] }> = [];
  for (let i = 0; i < all.length; ) {
    const n = Number(all[i + 4]);
    blocks.push({ path: all[i]!, lines: all.slice(i, i + 5 + n) });
    i += 5 + n;
  }
  return blocks;
}

function validPaths(store: string): string[] {
  return dumpBlocks(runOk(nixStore(store, "--dump-db")).toString("latin1")).map((b) => b.path);
}

/** `nix path-info --json` without registration times (which differ by when each store registered). */
function pathInfo(store: string, list: string[]): unknown {
  const infos = JSON.parse(runOk(["nix", "path-info", "--json", "--store", store, ...list]).toString()) as Array<Record<string, unknown>>;
  for (const info of infos) delete info.registrationTime;
  return infos;
}

/** Real Nix's full check of a store: every path present, every NAR hash right. */
function verifyClean(store: string): void {
  const result = run(nixStore(store, "--verify", "--check-contents"));
  expect(result.stderr).not.toMatch(/error|modified|disappeared|warning/);
  expect(result.code).toBe(0);
}

/** Objects (and leftovers) in a store's directory, lock files aside. */
function objectsOnDisk(store: string): string[] {
  return readdirSync(join(store, "nix/store"))
    .filter((n) => !n.endsWith(".lock") && n !== ".links")
    .map((n) => `/nix/store/${n}`)
    .sort();
}

/** A record (u64(1) + NAR + trailer) of one path, cut from Nix's single-path export. */
function recordOf(path: string): Buffer {
  const stream = runOk(nixStore(source, "--export", path));
  return stream.subarray(0, stream.length - 8);
}

const END = Buffer.alloc(8);
const BOGUS = `/nix/store/${"0".repeat(32)}-bogus`;

/**
 * What the database says, read with SQLite directly: every ValidPaths row
 * (without id and registration time), the references and the derivation
 * outputs, by path.
 */
function dbContents(store: string): unknown {
  const db = new Database(join(store, "nix/var/nix/db/db.sqlite"), { readonly: true });
  try {
    return {
      valid: db.query("select path, hash, deriver, narSize, ultimate, sigs, ca from ValidPaths order by path").all(),
      refs: db.query("select a.path as referrer, b.path as reference from Refs join ValidPaths a on referrer = a.id join ValidPaths b on reference = b.id order by 1, 2").all(),
      outputs: db.query("select v.path as drv, d.id as name, d.path as output from DerivationOutputs d join ValidPaths v on d.drv = v.id order by 1, 2").all(),
    };
  } finally {
    db.close();
  }
}

beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
  dir = scratchDir("transfer");
  source = join(dir, "source");
  writeFileSync(join(dir, "expr.nix"), EXPR);
  runOk(["nix-build", "--store", source, "--no-out-link", join(dir, "expr.nix")]);
  const trees: string[] = [];
  for (let i = 0; i < 12; i++) {
    const tree = join(dir, `tree-${i}`);
    writeRandomTree(new Random(7100 + i), tree, { maxDepth: 3, maxEntries: 6 });
    trees.push(tree);
  }
  const big = join(dir, "big.bin");
  writeFileSync(big, new Random(7).bytes(3 << 20));
  runOk(nixStore(source, "--add", ...trees, big));
  nixDump = runOk(nixStore(source, "--dump-db")).toString("latin1");
  paths = dumpBlocks(nixDump).map((b) => b.path);
  nixStream = runOk(nixStore(source, "--export", ...paths));
});

test("the source store has built outputs, .drv files, sources, added trees and self references", () => {
  expect(paths.length).toBeGreaterThan(25);
  expect(paths.some((p) => p.endsWith("-c-lib"))).toBe(true);
  expect(paths.some((p) => p.endsWith(".drv"))).toBe(true);
  expect(lines(runOk(nixStore(source, "-q", "--references", paths.find((p) => p.endsWith("-self"))!)))).toContain(paths.find((p) => p.endsWith("-self"))!);
});

describe("export", () => {
  test("bunix exports Nix's store byte for byte, whatever the argument order", () => {
    const shuffled = [...paths].reverse();
    expect(runOk(ours(source, "--export", ...shuffled)).equals(nixStream)).toBe(true);
    expect(runOk([bunix, "store", "export", "--store", source, ...paths]).equals(nixStream)).toBe(true);
    const some = [paths.find((p) => p.endsWith("-top"))!, paths.find((p) => p.endsWith("-a"))!, paths.find((p) => p.endsWith("-c"))!];
    expect(runOk(ours(source, "--export", ...some)).equals(runOk(nixStore(source, "--export", ...some)))).toBe(true);
  });

  test("an invalid path is refused before anything is written", () => {
    const result = run(ours(source, "--export", paths[1]!, BOGUS));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`path '${BOGUS}' is not valid`);
    expect(result.stdout.length).toBe(0);
    expect(run(nixStore(source, "--export", BOGUS)).code).not.toBe(0);
  });
});

describe("import", () => {
  let nixTarget: string;
  let nixPrinted: Buffer;
  beforeAll(() => {
    nixTarget = newRoot("nix-imported");
    nixPrinted = runOk(nixStore(nixTarget, "--import"), { stdin: nixStream });
  });

  test("bunix imports Nix's stream: same output, Nix verifies the store, same path-info and dump-db", () => {
    const target = newRoot("bunix-imported");
    const printed = runOk(ours(target, "--import"), { stdin: nixStream });
    expect(printed.toString()).toBe(nixPrinted.toString());
    verifyClean(target);
    expect(pathInfo(target, paths)).toEqual(pathInfo(nixTarget, paths));
    expect(runOk(nixStore(target, "--dump-db")).toString()).toBe(runOk(nixStore(nixTarget, "--dump-db")).toString());
    expect(dbContents(target)).toEqual(dbContents(nixTarget));
    expect(objectsOnDisk(target)).toEqual(paths);
    // Importing again changes nothing and prints the same.
    expect(runOk([bunix, "store", "import", "--store", target], { stdin: nixStream }).toString()).toBe(nixPrinted.toString());
    expect(runOk(nixStore(target, "--dump-db")).toString()).toBe(runOk(nixStore(nixTarget, "--dump-db")).toString());
  });

  test("real Nix imports bunix's export of a bunix-imported store", () => {
    const target = newRoot("bunix-imported");
    runOk([bunix, "store", "import", "--store", target], { stdin: nixStream });
    const stream = runOk([bunix, "store", "export", "--store", target, ...paths]);
    expect(stream.equals(nixStream)).toBe(true);
    const back = newRoot("nix-from-bunix");
    expect(runOk(nixStore(back, "--import"), { stdin: stream }).toString()).toBe(nixPrinted.toString());
    verifyClean(back);
    expect(pathInfo(back, paths)).toEqual(pathInfo(nixTarget, paths));
  });
});

describe("malformed streams", () => {
  let records: Buffer[];
  let order: string[];
  beforeAll(() => {
    // The stream is the records in export order followed by u64(0).
    order = lines(runOk(nixStore(newRoot("order"), "--import"), { stdin: nixStream }));
    records = order.map(recordOf);
    expect(Buffer.concat([...records, END]).equals(nixStream)).toBe(true);
  });

  /** Both tools refuse `stream` and leave the same valid paths; bunix leaves nothing else behind. */
  function refusedLikeNix(stream: Buffer, message: string | RegExp): void {
    const nixTarget = newRoot("nix-bad");
    const target = newRoot("bunix-bad");
    const nixResult = run(nixStore(nixTarget, "--import"), { stdin: stream });
    expect(nixResult.code).not.toBe(0);
    const result = run(ours(target, "--import"), { stdin: stream });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stdout.length).toBe(0);
    const expected = validPaths(nixTarget);
    expect(validPaths(target)).toEqual(expected);
    expect(objectsOnDisk(target)).toEqual(expected);
    verifyClean(target);
  }

  test("truncated in a NAR, between records, and before the final marker", () => {
    const whole = Buffer.concat([...records, END]);
    const third = records[0]!.length + records[1]!.length;
    refusedLikeNix(whole.subarray(0, third + 100), "unexpected end-of-file");
    refusedLikeNix(whole.subarray(0, third), "unexpected end-of-file");
    refusedLikeNix(whole.subarray(0, whole.length - 3), "unexpected end-of-file");
    refusedLikeNix(Buffer.alloc(0), "unexpected end-of-file");
  });

  test("wrong magic in the third record", () => {
    const bad = Buffer.from(records[2]!);
    bad.write("XIXE", bad.lastIndexOf("NIXE"), "latin1");
    refusedLikeNix(Buffer.concat([records[0]!, records[1]!, bad, ...records.slice(3), END]), "Nix archive cannot be imported; wrong format");
  });

  test("a bad record marker", () => {
    const bad = Buffer.from(records[3]!);
    bad[0] = 2;
    refusedLikeNix(Buffer.concat([...records.slice(0, 3), bad, END]), "input doesn't look like something created by 'nix-store --export'");
  });

  test("a reference to a path neither valid nor imported earlier", () => {
    // The last record that refers to something other than itself and the first record.
    const index = order.findLastIndex((path) => lines(runOk(nixStore(source, "-q", "--references", path))).some((r) => r !== path && r !== order[0]));
    expect(index).toBeGreaterThan(0);
    refusedLikeNix(Buffer.concat([records[0]!, records[index]!, END]), /which is not valid/);
  });

  test("a corrupted NAR", () => {
    const bad = Buffer.from(records[4]!);
    bad.write("typo", bad.indexOf("type"), "latin1");
    refusedLikeNix(Buffer.concat([...records.slice(0, 4), bad, ...records.slice(5), END]), /bad NAR at byte \d+: .*typo/);
  });

  test("a .drv whose contents were damaged (a valid NAR of an invalid derivation)", () => {
    const index = order.findIndex((p) => p.endsWith(".drv"));
    const bad = Buffer.from(records[index]!);
    bad.write("(", bad.indexOf("Derive([") + 7, "latin1");
    refusedLikeNix(Buffer.concat([...records.slice(0, index), bad, ...records.slice(index + 1), END]), /error parsing derivation/);
  });
});

describe("dump-db, load-db, register-validity, check-validity", () => {
  test("--dump-db is byte-identical to Nix's, sorted or in argument order", () => {
    expect(runOk(ours(source, "--dump-db")).toString("latin1")).toBe(nixDump);
    expect(runOk([bunix, "store", "dump-db", "--store", source]).toString("latin1")).toBe(nixDump);
    const some = [paths[5]!, paths[1]!, paths[9]!, paths[1]!];
    expect(runOk(ours(source, "--dump-db", ...some)).toString("latin1")).toBe(runOk(nixStore(source, "--dump-db", ...some)).toString("latin1"));
  });

  /** A fresh store holding copies of the source's objects but no registrations. */
  function objectsOnly(label: string, init: (root: string) => string[]): string {
    const root = newRoot(label);
    runOk(init(root));
    // cp -a: node's cpSync cannot copy names that are not UTF-8.
    runOk(["cp", "-a", ...paths.map((p) => join(source, p)), join(root, "nix/store")]);
    return root;
  }

  test("bunix --load-db of Nix's dump gives what Nix's own --load-db gives", () => {
    const nixLoaded = objectsOnly("nix-loaded", (root) => nixStore(root, "--init"));
    runOk(nixStore(nixLoaded, "--load-db"), { stdin: nixDump });
    const loaded = objectsOnly("bunix-loaded", (root) => [bunix, "store", "init", "--store", root]);
    runOk(ours(loaded, "--load-db"), { stdin: nixDump });
    expect(runOk(nixStore(loaded, "--dump-db")).toString("latin1")).toBe(nixDump);
    verifyClean(loaded);
    expect(pathInfo(loaded, paths)).toEqual(pathInfo(nixLoaded, paths));
    expect(dbContents(loaded)).toEqual(dbContents(nixLoaded));
    // Loading again (bunix store load-db) updates in place.
    runOk([bunix, "store", "load-db", "--store", loaded], { stdin: nixDump });
    expect(runOk(nixStore(loaded, "--dump-db")).toString("latin1")).toBe(nixDump);
  });

  test("--load-db over a store that has the paths already updates them as Nix does (ultimate, ca and signatures dropped)", () => {
    const nixOver = newRoot("nix-over");
    const over = newRoot("bunix-over");
    runOk(["cp", "-a", source, nixOver]);
    runOk(["cp", "-a", source, over]);
    runOk(nixStore(nixOver, "--load-db"), { stdin: nixDump });
    runOk(ours(over, "--load-db"), { stdin: nixDump });
    expect(dbContents(over)).toEqual(dbContents(nixOver));
    expect(dbContents(over)).not.toEqual(dbContents(source));
  });

  test("bad --load-db input names its line and registers nothing", () => {
    const loaded = objectsOnly("bunix-bad-load", (root) => [bunix, "store", "init", "--store", root]);
    const blocks = dumpBlocks(nixDump);
    const badLine = blocks.slice(0, 3).reduce((n, b) => n + b.lines.length, 0) + 3;
    const text = blocks.map((b, i) => (i === 3 ? [b.lines[0], b.lines[1], "12x", ...b.lines.slice(3)] : b.lines).join("\n")).join("\n") + "\n";
    const result = run(ours(loaded, "--load-db"), { stdin: text });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`line ${badLine}: expected a NAR size, got '12x'`);
    expect(run(nixStore(loaded, "--load-db"), { stdin: text }).code).not.toBe(0);
    expect(validPaths(loaded)).toEqual([]);
  });

  test("--register-validity registers copied objects as Nix had them", () => {
    const copy = objectsOnly("bunix-registered", (root) => [bunix, "store", "init", "--store", root]);
    const text = dumpBlocks(nixDump)
      .map((b) => [b.lines[0], ...b.lines.slice(3)].join("\n"))
      .join("\n");
    runOk(ours(copy, "--register-validity"), { stdin: `${text}\n` });
    expect(runOk(nixStore(copy, "--dump-db")).toString("latin1")).toBe(nixDump);
    verifyClean(copy);
  });

  test("--register-validity canonicalises and hashes like Nix (stores whose logical and real directories agree)", () => {
    // Nix 2.8 canonicalises the logical path, so this needs stores that are not chroots.
    const registerIn = (label: string, tool: string[]) => {
      const root = newRoot(label);
      const storeDir = join(root, "store");
      const uri = `local?store=${storeDir}&state=${root}/state&log=${root}/log`;
      runOk([...tool, "--store", uri, "--init"]);
      const rng = new Random(99);
      const names = [...Array(8)].map((_, i) => `${[...Array(32)].map(() => "0123456789abcdfghijklmnpqrsvwxyz"[rng.int(32)]).join("")}-reg-${i}`);
      names.forEach((name, i) => writeRandomTree(new Random(8800 + i), join(storeDir, name), { maxDepth: 3, maxEntries: 5 }));
      const text = names
        .map((name, i) => {
          const refs = i === 0 ? [] : [`${storeDir}/${names[i - 1]}`, ...(i % 3 === 0 ? [`${storeDir}/${name}`] : [])].sort();
          const deriver = i === 2 ? `${storeDir}/${"1".repeat(32)}-reg.drv` : "";
          return [`${storeDir}/${name}`, deriver, String(refs.length), ...refs].join("\n");
        })
        .join("\n");
      runOk([...tool, "--store", uri, "--register-validity"], { stdin: `${text}\n` });
      return { root, storeDir, uri };
    };
    const theirs = registerIn("nix-register", ["nix-store"]);
    const mine = registerIn("bunix-register", [bunix, "nix-store"]);
    const relative = (store: { root: string; storeDir: string }) => {
      const db = new Database(join(store.root, "state/db/db.sqlite"), { readonly: true });
      try {
        const rows = db.query("select path, hash, deriver, narSize, ultimate, sigs, ca from ValidPaths order by path").all() as Array<Record<string, unknown>>;
        const refs = db.query("select a.path as referrer, b.path as reference from Refs join ValidPaths a on referrer = a.id join ValidPaths b on reference = b.id order by 1, 2").all();
        return JSON.stringify({ rows, refs }).replaceAll(store.storeDir, "STORE");
      } finally {
        db.close();
      }
    };
    expect(relative(mine)).toBe(relative(theirs));
    const listing = (storeDir: string) =>
      runOk(["find", storeDir, "-mindepth", "1", "-not", "-name", "*.lock", "-not", "-name", ".links", "-printf", "%P %y %m %T@\n"]).toString("latin1").split("\n").sort();
    expect(listing(mine.storeDir)).toEqual(listing(theirs.storeDir));
    expect(run(["nix-store", "--store", mine.uri, "--verify", "--check-contents"]).code).toBe(0);
  });

  test("--check-validity", () => {
    const args = [paths[2]!, BOGUS, paths[0]!];
    expect(runOk(ours(source, "--check-validity", "--print-invalid", ...args)).toString()).toBe(runOk(nixStore(source, "--check-validity", "--print-invalid", ...args)).toString());
    expect(runOk(ours(source, "--check-validity", ...paths)).length).toBe(0);
    const result = run(ours(source, "--check-validity", ...args));
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(run(nixStore(source, "--check-validity", ...args)).stderr);
  });
});
