// Live differential tests of verification against real Nix 2.8, on a store
// populated by both tools (nix-build outputs, nix-store --add, bunix store
// add/add-text, .links from nix-store --optimise): both find a clean store
// clean; after damage of every kind bunix reports each problem with its
// path and keeps going, the nix-store alias prints what Nix prints, and
// --repair leaves a store that real `nix-store --verify --check-contents`
// finds clean again, except for changed contents, which cannot be repaired.
import { beforeAll, describe, expect, test } from "bun:test";
import { FFIType, dlopen } from "bun:ffi";
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { VerifyProblem } from "../../internal/store/verify-report.ts";
import { bunixBinary, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

const EXPR = String.raw`
let
  mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
  leaf = mk { name = "leaf"; args = [ "-c" "echo leaf > $out" ]; };
  multi = mk {
    name = "multi"; outputs = [ "out" "dev" ];
    args = [ "-c" "mkdir -p $out/bin $out/share $dev; echo ${"$"}{leaf} > $out/share/ref; printf '#!/bin/sh\\necho hi\\n' > $out/bin/hi; chmod +x $out/bin/hi; ln -s $out/share/ref $out/link; echo $out > $dev/self" ];
  };
  fixed = mk { name = "fixed"; outputHashAlgo = "sha256"; outputHash = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"; args = [ "-c" "echo hello > $out" ]; };
  top = mk { name = "top"; args = [ "-c" "echo ${"$"}{multi.dev} ${"$"}{fixed} > $out" ]; };
in [ leaf multi fixed top ]
`;

const bunixEnv = () => nixEnv();
let bunix: string;

function writeTree(dir: string, label: string): string {
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "a.txt"), `${label} a\n`);
  writeFileSync(join(dir, "sub/b.txt"), `${label} b\n`);
  writeFileSync(join(dir, "run"), `#!/bin/sh\necho ${label}\n`, { mode: 0o755 });
  symlinkSync("a.txt", join(dir, "link"));
  return dir;
}

interface Populated {
  root: string;
  real: string;
  built: string[];
  added: string;
  bunixTree: string;
  bunixLeaf: string;
  bunixText: string;
}

/** A store with objects from real Nix (builds, --add, --optimise) and from bunix. */
function populate(label: string): Populated {
  const dir = scratchDir(label);
  const root = join(dir, "root");
  writeFileSync(join(dir, "expr.nix"), EXPR);
  const built = runOk(["nix-build", "--store", root, join(dir, "expr.nix"), "--no-out-link"]).toString().trim().split("\n");
  const added = runOk(["nix-store", "--store", root, "--add", writeTree(join(dir, "nix-src"), "nix")]).toString().trim();
  const bunixTree = runOk([bunix, "store", "add", "--store", root, writeTree(join(dir, "bunix-src"), "bunix")], { env: bunixEnv() }).toString().trim();
  writeFileSync(join(dir, "leaf.txt"), "a leaf nothing refers to\n");
  const bunixLeaf = runOk([bunix, "store", "add", "--store", root, join(dir, "leaf.txt")], { env: bunixEnv() }).toString().trim();
  writeFileSync(join(dir, "text.txt"), `refers to ${bunixTree} and ${built[0]}\n`);
  const bunixText = runOk([bunix, "store", "add-text", "--store", root, "refs.txt", join(dir, "text.txt")], { env: bunixEnv() }).toString().trim();
  runOk(["nix-store", "--store", root, "--optimise"]);
  return { root, real: join(root, "nix/store"), built, added, bunixTree, bunixLeaf, bunixText };
}

function realOf(store: Populated, path: string, sub = ""): string {
  return join(store.real, path.slice("/nix/store/".length), sub);
}

function nixVerify(root: string): { code: number; stderr: string } {
  const result = run(["nix-store", "--store", root, "--verify", "--check-contents"]);
  return { code: result.code, stderr: result.stderr };
}

function aliasVerify(root: string, ...extra: string[]): { code: number; stderr: string } {
  const result = run([bunix, "nix-store", "--store", root, "--verify", "--check-contents", ...extra], { env: bunixEnv() });
  return { code: result.code, stderr: result.stderr };
}

function bunixVerify(root: string, ...extra: string[]): { code: number; problems: VerifyProblem[]; report: Record<string, unknown> } {
  const result = run([bunix, "store", "verify", "--store", root, "--check-contents", "--json", ...extra], { env: bunixEnv() });
  if (result.stdout.length === 0) throw new Error(`bunix store verify printed nothing: ${result.stderr}`);
  const report = JSON.parse(result.stdout.toString()) as { problems: VerifyProblem[] } & Record<string, unknown>;
  return { code: result.code, problems: report.problems, report };
}

const PHASES = "reading the Nix store...\nchecking path existence...\nchecking link hashes...\nchecking store hashes...\n";

let store: Populated;

beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
  store = populate("verify-live");
});

test("a store written by both tools is clean for both", () => {
  expect(readdirSync(join(store.real, ".links")).length).toBeGreaterThan(3);
  const nix = nixVerify(store.root);
  expect(nix).toEqual({ code: 0, stderr: PHASES });
  expect(aliasVerify(store.root)).toEqual(nix);
  const ours = bunixVerify(store.root);
  expect(ours.problems).toEqual([]);
  expect(ours.code).toBe(0);
  expect(ours.report.validPaths).toBe(run(["nix-store", "--store", store.root, "-q", "--requisites", ...store.built, store.added, store.bunixText, store.bunixLeaf]).stdout.toString().trim().split("\n").length + 4);
});

test("--verify-path: same exit codes and messages for valid and invalid paths", () => {
  for (const paths of [[store.built[0]!], [store.added, store.bunixTree], ["/nix/store/00000000000000000000000000000000-nothing"]]) {
    const nix = run(["nix-store", "--store", store.root, "--verify-path", ...paths]);
    const ours = run([bunix, "nix-store", "--store", store.root, "--verify-path", ...paths], { env: bunixEnv() });
    expect([ours.code, ours.stderr]).toEqual([nix.code, nix.stderr]);
  }
});

describe("damage", () => {
  test("every problem is reported with its path; the alias matches Nix; --repair fixes all but contents", () => {
    const [, multiOut, , top] = store.built.filter((p) => !p.endsWith("-dev"));
    expect(multiOut).toMatch(/-multi$/);
    const changed = realOf(store, top!);
    const original = readFileSync(changed);
    // Contents: a build output rewritten.
    chmodSync(changed, 0o644);
    writeFileSync(changed, "changed\n");
    // Metadata of a Nix-built output: permissions, mtime, owner, xattr.
    const multiDir = realOf(store, multiOut!);
    chmodSync(multiDir, 0o755);
    chmodSync(join(multiDir, "share/ref"), 0o644);
    utimesSync(join(multiDir, "bin/hi"), 1000, 1_700_000_000);
    chownSync(join(multiDir, "share"), 4242, 4242);
    setXattr(join(multiDir, "share/ref"), "user.stray", "x");
    // A bunix-added leaf deleted: both tools drop it from the database.
    rmSync(realOf(store, store.bunixLeaf));
    // A file of the Nix-added tree replaced by a FIFO.
    const addedDir = realOf(store, store.added);
    chmodSync(addedDir, 0o755);
    unlinkSync(join(addedDir, "a.txt"));
    Bun.spawnSync(["mkfifo", join(addedDir, "a.txt")]);
    chmodSync(addedDir, 0o555);
    utimesSync(addedDir, 1, 1);
    // A .links entry replaced by other contents (the store files keep theirs).
    const links = join(store.real, ".links");
    const link = readdirSync(links).sort()[0]!;
    unlinkSync(join(links, link));
    writeFileSync(join(links, link), "corrupt\n");

    const first = bunixVerify(store.root);
    expect(first.code).toBe(1);
    const has = (kind: string, path: string, file?: string) =>
      first.problems.some((p) => p.kind === kind && (p.path === path || p.path === realOf(store, path)) && (file === undefined || p.file === file));
    expect(has("modified", top!)).toBe(true);
    expect(has("mode", multiOut!, multiDir)).toBe(true);
    expect(has("mode", multiOut!, join(multiDir, "share/ref"))).toBe(true);
    expect(has("mtime", multiOut!, join(multiDir, "bin/hi"))).toBe(true);
    expect(has("owner", multiOut!, join(multiDir, "share"))).toBe(true);
    expect(has("xattr", multiOut!, join(multiDir, "share/ref"))).toBe(true);
    expect(has("disappeared", store.bunixLeaf)).toBe(true);
    expect(has("unsupported-type", store.added, join(addedDir, "a.txt"))).toBe(true);
    expect(first.problems.some((p) => p.kind === "link-modified" && p.path === join(links, link))).toBe(true);
    // Nothing was hidden behind the first error: every other object's contents were checked.
    expect(first.report.contentsChecked).toBe((first.report.validPaths as number) - 2);

    // Same state for both now (the deleted leaf is gone from the database): same messages, same exit code.
    const nix = nixVerify(store.root);
    expect(nix.code).toBe(1);
    expect(nix.stderr).toContain(`path '${top}' was modified!`);
    expect(aliasVerify(store.root)).toEqual(nix);
    const nixPath = run(["nix-store", "--store", store.root, "--verify-path", store.built[0]!, top!]);
    const ourPath = run([bunix, "nix-store", "--store", store.root, "--verify-path", store.built[0]!, top!], { env: bunixEnv() });
    expect(nixPath.code).toBe(1);
    expect([ourPath.code, ourPath.stderr]).toEqual([nixPath.code, nixPath.stderr]);

    const repaired = bunixVerify(store.root, "--repair");
    expect(repaired.code).toBe(1);
    const left = repaired.problems.filter((p) => !p.repaired);
    expect(left.map((p) => p.kind).sort()).toEqual(["modified", "unsupported-type"]);
    expect(left.find((p) => p.kind === "modified")!.notRepaired).toContain("cannot substitute or rebuild");
    expect(lstatSync(join(multiDir, "share/ref")).mode & 0o7777).toBe(0o444);
    expect(lstatSync(multiDir).mode & 0o7777).toBe(0o555);
    expect(Math.floor(lstatSync(join(multiDir, "bin/hi")).mtimeMs / 1000)).toBe(1);
    expect(lstatSync(join(multiDir, "share")).uid).toBe(process.geteuid!());
    expect(readdirSync(links)).not.toContain(link);

    // Real Nix now sees only what could not be repaired.
    const after = nixVerify(store.root);
    expect(after.stderr).not.toContain("link '");
    const errors = after.stderr.split("\n").filter((l) => l.includes("modified!") || l.startsWith("error:"));
    expect(errors.length).toBe(2);
    expect(errors).toContain(`error: file '${join(addedDir, "a.txt")}' has an unsupported type`);
    expect(errors.some((l) => l.startsWith(`path '${top}' was modified!`))).toBe(true);

    // With the contents put back, --repair makes the rest canonical and Nix finds nothing.
    writeFileSync(changed, original);
    chmodSync(addedDir, 0o755);
    unlinkSync(join(addedDir, "a.txt"));
    writeFileSync(join(addedDir, "a.txt"), "nix a\n");
    expect(bunixVerify(store.root, "--repair").code).toBe(0);
    expect(nixVerify(store.root)).toEqual({ code: 0, stderr: PHASES });
    expect(bunixVerify(store.root)).toMatchObject({ code: 0, problems: [] });
  });
});

const libc = dlopen("libc.so.6", { lsetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
function setXattr(path: string, name: string, value: string): void {
  const c = (s: string) => Buffer.from(`${s}\0`);
  const data = Buffer.from(value);
  if (libc.symbols.lsetxattr(c(path), c(name), data, data.length, 0) !== 0) throw new Error(`lsetxattr ${path} ${name} failed`);
}

test("unreadable files (checked as an unprivileged owner): reported with the error, the run goes on, --repair makes them readable", () => {
  const nobody = 65534;
  const dir = scratchDir("verify-nobody");
  chmodSync(dir, 0o755);
  const root = join(dir, "root");
  const tree = runOk([bunix, "store", "add", "--store", root, writeTree(join(dir, "src1"), "one")], { env: bunixEnv() }).toString().trim();
  const other = runOk([bunix, "store", "add", "--store", root, writeTree(join(dir, "src2"), "two")], { env: bunixEnv() }).toString().trim();
  writeFileSync(join(dir, "fine.txt"), "fine\n");
  runOk([bunix, "store", "add", "--store", root, join(dir, "fine.txt")], { env: bunixEnv() });
  runOk(["chown", "-R", `${nobody}:${nobody}`, root]);
  const treeDir = join(root, tree);
  const unreadableFile = join(treeDir, "a.txt");
  const unreadableDir = join(root, other, "sub");
  chmodSync(unreadableFile, 0o000);
  chmodSync(unreadableDir, 0o000);
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, NIX_CONF_DIR: dir };
  const asNobody = (argv: string[]) => run(["setpriv", "--reuid", String(nobody), "--regid", String(nobody), "--clear-groups", ...argv], { env });

  const nix = asNobody(["nix-store", "--store", root, "--verify", "--check-contents"]);
  const alias = asNobody([bunix, "nix-store", "--store", root, "--verify", "--check-contents"]);
  expect(nix.code).toBe(1);
  expect(nix.stderr).toContain(`'${unreadableFile}': Permission denied`);
  expect([alias.code, alias.stderr]).toEqual([nix.code, nix.stderr]);

  const result = asNobody([bunix, "store", "verify", "--store", root, "--check-contents", "--json"]);
  expect(result.code).toBe(1);
  const report = JSON.parse(result.stdout.toString()) as { problems: VerifyProblem[]; contentsChecked: number; validPaths: number };
  const unreadable = report.problems.filter((p) => p.kind === "unreadable");
  expect(unreadable.map((p) => p.path).sort()).toEqual([tree, other].sort());
  expect(unreadable.every((p) => p.detail.includes("Permission denied"))).toBe(true);
  expect(unreadable.find((p) => p.path === tree)!.detail).toContain(unreadableFile);
  expect(unreadable.find((p) => p.path === other)!.detail).toContain(unreadableDir);
  // The readable object was still checked.
  expect(report.contentsChecked).toBe(1);
  expect(report.problems.some((p) => p.kind === "mode" && p.file === unreadableFile)).toBe(true);

  const repaired = asNobody([bunix, "store", "verify", "--store", root, "--check-contents", "--repair"]);
  expect(repaired.code).toBe(0);
  expect(lstatSync(unreadableFile).mode & 0o7777).toBe(0o444);
  expect(asNobody(["nix-store", "--store", root, "--verify", "--check-contents"]).code).toBe(0);
});
