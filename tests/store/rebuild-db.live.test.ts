// `bunix store db rebuild` against real Nix 2.8: the database of a store
// populated by Nix (builds of every output kind, sources, toFile texts,
// --add, --optimise) and by bunix is deleted; after the rebuild real Nix
// finds the store consistent and gives the same references, derivers,
// hashes, sizes, content addresses and derivation outputs as before, and
// the report names exactly what could not be recovered.
import { beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RebuildReport } from "../../internal/store/rebuild-db.ts";
import { bunixBinary, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

const EXPR = String.raw`
let
  mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
  srcDir = ./src;
  note = builtins.toFile "note.txt" "a note\n";
  noteRef = builtins.toFile "note-ref.txt" "refers to ${"$"}{note} and ${"$"}{srcDir}\n";
  leaf = mk { name = "leaf"; args = [ "-c" "echo leaf > $out" ]; };
  multi = mk {
    name = "multi"; outputs = [ "out" "dev" "lib" ];
    args = [ "-c" "mkdir $out $dev $lib; echo $lib > $dev/uses-lib; echo ${"$"}{leaf} > $lib/uses-leaf; echo $out > $out/self; ln -s $dev $out/to-dev" ];
  };
  foFlat = mk { name = "fo-flat"; outputHashAlgo = "sha256"; outputHash = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"; args = [ "-c" "echo hello > $out" ]; };
  foRec = mk { name = "fo-rec"; outputHashMode = "recursive"; outputHash = "sha256-8o0DBb0yE+dbLyDe85hGPPhmjfnJ5YFV5rNLl+pnrSk="; args = [ "-c" "mkdir $out; echo hello > $out/f" ]; };
  foSha1 = mk { name = "fo-sha1"; outputHashMode = "recursive"; outputHash = "sha1-DetSwnNes402D5drezgjxK0FzOc="; args = [ "-c" "echo hello > $out" ]; };
  chain = mk {
    name = "chain"; unused = leaf;
    args = [ "-c" "mkdir -p $out/bin; echo ${"$"}{multi.dev} ${"$"}{foFlat} ${"$"}{noteRef} > $out/refs; printf '#!/bin/sh\\n' > $out/bin/tool; chmod +x $out/bin/tool; echo ${"$"}{foRec} > $out/rec" ];
  };
  top = mk { name = "top"; args = [ "-c" "echo ${"$"}{chain} ${"$"}{foSha1} > $out" ]; };
in [ leaf multi foFlat foRec foSha1 chain top ]
`;

interface Row {
  path: string;
  hash: string;
  narSize: number | null;
  deriver: string | null;
  ca: string | null;
  registrationTime: number;
}

function rows(dbFile: string): Map<string, Row> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const all = db.query("select path, hash, narSize, deriver, ca, registrationTime from ValidPaths").all() as Row[];
    return new Map(all.map((r) => [r.path, r]));
  } finally {
    db.close();
  }
}

function derivationOutputs(dbFile: string): string[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    return (db.query("select v.path as drv, d.id as id, d.path as path from DerivationOutputs d join ValidPaths v on v.id = d.drv").all() as Array<Record<string, string>>)
      .map((r) => `${r.drv} ${r.id} ${r.path}`)
      .sort();
  } finally {
    db.close();
  }
}

/** What real Nix answers about a path: its references and deriver. */
function nixAnswers(root: string, paths: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const path of paths) {
    const refs = runOk(["nix-store", "--store", root, "-q", "--references", path]).toString();
    const deriver = runOk(["nix-store", "--store", root, "-q", "--deriver", path]).toString();
    out.set(path, `${refs.trim().split("\n").sort().join(" ")} | ${deriver.trim()}`);
  }
  return out;
}

const PHASES = "reading the Nix store...\nchecking path existence...\nchecking link hashes...\nchecking store hashes...\n";

let bunix: string;
beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
});

function rebuild(root: string): { report: RebuildReport; code: number; stderr: string } {
  const result = run([bunix, "store", "db", "rebuild", "--store", root, "--json"], { env: nixEnv() });
  if (result.code !== 0) throw new Error(`bunix store db rebuild failed: ${result.stderr}`);
  return { report: JSON.parse(result.stdout.toString()) as RebuildReport, code: result.code, stderr: result.stderr };
}

test("a deleted database of a store written by Nix and bunix is rebuilt with the same answers", () => {
  const dir = scratchDir("rebuild");
  const root = join(dir, "root");
  const real = join(root, "nix/store");
  const dbFile = join(root, "nix/var/nix/db/db.sqlite");
  mkdirSync(join(dir, "src/sub"), { recursive: true });
  writeFileSync(join(dir, "src/a.txt"), "source file\n");
  writeFileSync(join(dir, "src/sub/run"), "#!/bin/sh\n", { mode: 0o755 });
  symlinkSync("a.txt", join(dir, "src/link"));
  writeFileSync(join(dir, "expr.nix"), EXPR);
  const built = runOk(["nix-build", "--store", root, join(dir, "expr.nix"), "--no-out-link"]).toString().trim().split("\n");
  const top = built.find((p) => p.endsWith("-top"))!;
  writeFileSync(join(dir, "added.txt"), "added\n");
  runOk(["nix-store", "--store", root, "--add", join(dir, "added.txt"), join(dir, "src")]);
  const bunixAdded = runOk([bunix, "store", "add", "--store", root, join(dir, "src/sub")], { env: nixEnv() }).toString().trim();
  writeFileSync(join(dir, "text"), `mentions ${bunixAdded} and ${top}\n`);
  runOk([bunix, "store", "add-text", "--store", root, "bunix-text", join(dir, "text")], { env: nixEnv() });
  runOk(["nix-store", "--store", root, "--optimise"]);
  const topDrv = runOk(["nix-store", "--store", root, "-q", "--deriver", top]).toString().trim();
  // Things in the store directory that are not store objects.
  writeFileSync(join(real, "not-a-store-path"), "junk");
  const lockName = `${top.slice("/nix/store/".length)}.lock`;
  writeFileSync(join(real, lockName), "", { mode: 0o600 });

  const before = rows(dbFile);
  const beforeOutputs = derivationOutputs(dbFile);
  const answers = nixAnswers(root, before.keys());
  expect(before.size).toBe(22);

  // The database is lost, and with it the .drv of 'top': that output's deriver cannot be recovered.
  rmSync(dbFile);
  rmSync(join(real, topDrv.slice("/nix/store/".length)));
  const started = Math.floor(Date.now() / 1000);
  const { report } = rebuild(root);

  expect(report.movedAside).toEqual([]);
  expect(report.registered).toBe(before.size - 1);
  expect(report.unreadable).toEqual([]);
  expect(report.skipped.map((s) => s.name).sort()).toEqual([".links", lockName, "not-a-store-path"].sort());
  expect(report.lost.always.join(" ")).toMatch(/signatures.*registration times.*ultimate/);
  expect(report.lost.derivers).toEqual([top]);
  expect(report.lost.contentAddresses).toEqual([top]);
  expect(report.findings.droppedReferences).toEqual([]);
  expect(report.findings.ambiguousDerivers).toEqual([]);

  // Real Nix: the store is consistent, and every answer is the same (but the lost deriver).
  expect(run(["nix-store", "--store", root, "--verify", "--check-contents"])).toMatchObject({ code: 0, stderr: PHASES });
  answers.delete(topDrv);
  const after = nixAnswers(root, answers.keys());
  for (const [path, answer] of answers) {
    if (path === top) expect(after.get(path)).toBe(`${answer.split(" | ")[0]} | unknown-deriver`);
    else expect(after.get(path)).toBe(answer);
  }
  const rebuilt = rows(dbFile);
  expect(rebuilt.has(topDrv)).toBe(false);
  for (const [path, row] of before) {
    if (path === topDrv) continue;
    const now = rebuilt.get(path)!;
    expect(now.registrationTime).toBeGreaterThanOrEqual(started);
    expect({ ...now, registrationTime: 0 }).toEqual({ ...row, registrationTime: 0, ...(path === top ? { deriver: null } : {}) });
  }
  expect(derivationOutputs(dbFile)).toEqual(beforeOutputs.filter((row) => !row.startsWith(`${topDrv} `)));
  const ca = report.contentAddressed;
  expect(ca.text + ca.source + ca.fixed).toBe([...before.values()].filter((r) => r.ca && r.path !== topDrv).length);

  // A corrupt database is moved aside (kept, openable) and replaced.
  writeFileSync(dbFile, "this is not an SQLite database");
  const text = run([bunix, "store", "db", "rebuild", "--store", root], { env: nixEnv() });
  expect(text.code).toBe(0);
  expect(text.stdout.toString()).toContain("could not be recovered:");
  expect(text.stdout.toString()).toContain(`derivers of 1 paths (their .drv is not in the store)\n    ${top}\n`);
  const moved = /the old database was moved to '([^']+)'/.exec(text.stdout.toString())![1]!;
  expect(readFileSync(moved, "utf8")).toBe("this is not an SQLite database");
  expect(run(["nix-store", "--store", root, "--verify", "--check-contents"])).toMatchObject({ code: 0, stderr: PHASES });
  expect(run([bunix, "store", "verify", "--store", root, "--check-contents"], { env: nixEnv() }).code).toBe(0);
});

test("objects referring to each other in a cycle, unreadable objects and suspicious ones are reported", () => {
  const dir = scratchDir("rebuild-cycle");
  const root = join(dir, "root");
  const real = join(root, "nix/store");
  writeFileSync(join(dir, "plain.txt"), "plain\n");
  runOk([bunix, "store", "add", "--store", root, join(dir, "plain.txt")], { env: nixEnv() });
  // Two objects that mention each other (no tool makes these; a damaged store may hold them).
  const a = "a".repeat(32);
  const b = "b".repeat(32);
  writeFileSync(join(real, `${a}-first`), `/nix/store/${b}-second\n`);
  writeFileSync(join(real, `${b}-second`), `/nix/store/${a}-first\n`);
  for (const name of [`${a}-first`, `${b}-second`]) {
    chmodSync(join(real, name), 0o444);
    utimesSync(join(real, name), 1, 1);
  }
  // An object left half-written (not canonical) and one that cannot be read at all.
  mkdirSync(join(real, `${"c".repeat(32)}-unfinished`));
  Bun.spawnSync(["mkfifo", join(real, `${"d".repeat(32)}-fifo`)]);
  rmSync(join(root, "nix/var/nix/db/db.sqlite"));

  const { report } = rebuild(root);
  expect(report.registered).toBe(4);
  expect(report.findings.droppedReferences).toEqual([
    { from: `/nix/store/${b}-second`, to: `/nix/store/${a}-first`, reason: "it would close a reference cycle" },
  ]);
  expect(report.unreadable.map((u) => u.name)).toEqual([`${"d".repeat(32)}-fifo`]);
  expect(report.unreadable[0]!.error).toContain("unsupported type");
  expect(report.suspicious.map((s) => s.path)).toEqual([`/nix/store/${"c".repeat(32)}-unfinished`]);
  expect(runOk(["nix-store", "--store", root, "-q", "--references", `/nix/store/${a}-first`]).toString()).toBe(`/nix/store/${b}-second\n`);
  expect(runOk(["nix-store", "--store", root, "-q", "--references", `/nix/store/${b}-second`]).toString()).toBe("");
  expect(existsSync(join(real, `${"d".repeat(32)}-fifo`))).toBe(true);
});
