// Canonicalisation and store verification in process, on stores written by
// bunix: every kind of damage is found with its path, the run keeps going,
// and --repair fixes what can be fixed (and says why the rest cannot be).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { FFIType, dlopen } from "bun:ffi";
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { llistxattr } from "../../ffi/libc.ts";
import { hashPath } from "../../internal/nar/hash-path.ts";
import { Settings } from "../../internal/settings/settings.ts";
import { resolveStoreLocation } from "../../internal/settings/store-location.ts";
import type { StorePath } from "../../internal/store-path/store-path.ts";
import { addPath, addText } from "../../internal/store/add.ts";
import { canonicalisePathMetaData } from "../../internal/store/canonicalise.ts";
import { LocalStore } from "../../internal/store/local-store.ts";
import { checkPath, repairPath } from "../../internal/store/verify-path.ts";
import { type VerifyEvent, type VerifyProblem, unresolved } from "../../internal/store/verify-report.ts";
import { verifyStore } from "../../internal/store/verify.ts";
import { scratchDir } from "../helpers/tmp.ts";

const libc = dlopen("libc.so.6", { lsetxattr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
function setXattr(path: string, name: string, value: string): void {
  const c = (s: string) => Buffer.from(`${s}\0`);
  const data = Buffer.from(value);
  if (libc.symbols.lsetxattr(c(path), c(name), data, data.length, 0) !== 0) throw new Error(`lsetxattr ${path} ${name} failed`);
}

const euid = process.geteuid!();

/** A tree with everything a store object can hold, none of it canonical. */
function makeTree(dir: string): string {
  mkdirSync(join(dir, "sub/deeper"), { recursive: true });
  writeFileSync(join(dir, "plain"), "plain file\n", { mode: 0o600 });
  writeFileSync(join(dir, "tool"), "#!/bin/sh\necho tool\n", { mode: 0o700 });
  writeFileSync(join(dir, "sub/data"), "data\n", { mode: 0o640 });
  writeFileSync(join(dir, "sub/deeper/x"), "x\n");
  // Bun's chmodSync drops the setuid bit; chmod(1) keeps it.
  Bun.spawnSync(["chmod", "4755", join(dir, "sub/deeper/x")]);
  symlinkSync("plain", join(dir, "link"));
  chmodSync(join(dir, "sub"), 0o700);
  return dir;
}

function modeOf(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

function mtimeOf(path: string): number {
  return Math.floor(lstatSync(path).mtimeMs / 1000);
}

describe("canonicalisePathMetaData", () => {
  test("check-only lists every change; fixing makes the tree canonical", () => {
    const tree = makeTree(join(scratchDir("canon"), "t"));
    const check = canonicalisePathMetaData(tree, { checkOnly: true });
    expect(check.entries).toBe(8);
    const modes = check.issues.filter((i) => i.kind === "mode").map((i) => [i.file.slice(tree.length), i.detail]);
    expect(modes.sort()).toEqual([
      ["", "mode 0755, should be 0555"],
      ["/plain", "mode 0600, should be 0444"],
      ["/sub", "mode 0700, should be 0555"],
      ["/sub/data", "mode 0640, should be 0444"],
      ["/sub/deeper", "mode 0755, should be 0555"],
      ["/sub/deeper/x", "mode 4755, should be 0555"],
      ["/tool", "mode 0700, should be 0555"],
    ]);
    // Every entry, symlink included, has a fresh mtime.
    expect(check.issues.filter((i) => i.kind === "mtime").length).toBe(8);
    expect(check.issues.every((i) => !i.fixed)).toBe(true);
    expect(modeOf(join(tree, "plain"))).toBe(0o600);

    const fix = canonicalisePathMetaData(tree);
    expect(fix.issues.length).toBe(check.issues.length);
    expect(fix.issues.every((i) => i.fixed)).toBe(true);
    expect(modeOf(join(tree, "plain"))).toBe(0o444);
    expect(modeOf(join(tree, "tool"))).toBe(0o555);
    expect(modeOf(join(tree, "sub/deeper/x"))).toBe(0o555);
    expect(modeOf(join(tree, "sub"))).toBe(0o555);
    expect(modeOf(join(tree, "link"))).toBe(0o777);
    for (const entry of ["", "plain", "tool", "link", "sub", "sub/data", "sub/deeper", "sub/deeper/x"]) expect(mtimeOf(join(tree, entry))).toBe(1);
    expect(canonicalisePathMetaData(tree, { checkOnly: true }).issues).toEqual([]);
  });

  test("extended attributes are removed except ignored ones", () => {
    const tree = makeTree(join(scratchDir("canon"), "t"));
    setXattr(join(tree, "plain"), "user.remove-me", "1");
    setXattr(join(tree, "plain"), "user.keep-me", "2");
    const report = canonicalisePathMetaData(tree, { ignoredXattrs: ["user.keep-me"] });
    expect(report.issues.filter((i) => i.kind === "xattr").map((i) => i.detail)).toEqual(["extended attribute 'user.remove-me'"]);
    expect(llistxattr(join(tree, "plain"))).toEqual(["user.keep-me"]);
  });

  test("an entry of another type is an error, or a recorded problem with keepGoing", () => {
    const tree = makeTree(join(scratchDir("canon"), "t"));
    Bun.spawnSync(["mkfifo", join(tree, "sub/fifo")]);
    expect(() => canonicalisePathMetaData(tree)).toThrow(/has an unsupported type/);
    const report = canonicalisePathMetaData(tree, { keepGoing: true });
    const bad = report.issues.filter((i) => i.kind === "type");
    expect(bad.map((i) => i.file)).toEqual([join(tree, "sub/fifo")]);
    // Everything else was still made canonical.
    expect(modeOf(join(tree, "sub/data"))).toBe(0o444);
  });

  test("owners become the store owner; with expectedUid another owner is an error unless a hard link seen before", () => {
    const tree = makeTree(join(scratchDir("canon"), "t"));
    chownSync(join(tree, "sub/data"), 4242, 4242);
    const fixed = canonicalisePathMetaData(tree);
    expect(fixed.issues.filter((i) => i.kind === "owner").map((i) => i.file)).toEqual([join(tree, "sub/data")]);
    expect(lstatSync(join(tree, "sub/data")).uid).toBe(euid);

    const build = makeTree(join(scratchDir("canon"), "b"));
    Bun.spawnSync(["chown", "-R", "4242:4242", build]);
    const inodesSeen = new Set<string>();
    canonicalisePathMetaData(build, { expectedUid: 4242, inodesSeen });
    expect(lstatSync(join(build, "plain")).uid).toBe(euid);
    // A second output hard-linking a file of the first: accepted, not touched again.
    const second = join(scratchDir("canon"), "second");
    mkdirSync(second);
    chownSync(second, 4242, 4242);
    linkSync(join(build, "plain"), join(second, "same"));
    expect(() => canonicalisePathMetaData(second, { expectedUid: 4242, inodesSeen })).not.toThrow();
    // A file the build user did not own: refused.
    const third = join(scratchDir("canon"), "third");
    mkdirSync(third);
    chownSync(third, 4242, 4242);
    writeFileSync(join(third, "foreign"), "x");
    chownSync(join(third, "foreign"), 777, 777);
    expect(() => canonicalisePathMetaData(third, { expectedUid: 4242, inodesSeen: new Set() })).toThrow(/invalid ownership on file '.*foreign'/);
  });
});

describe("verifyStore", () => {
  let root: string;
  let store: LocalStore;
  let tree: StorePath;
  let single: StorePath;
  let text: StorePath;
  let leaf: StorePath;

  const settings = new Settings();
  settings.set("build-users-group", "");

  function open(): LocalStore {
    return LocalStore.open(resolveStoreLocation({ store: root, env: {} }), settings, { mode: "write" });
  }

  /** Hard-links every regular file of the object into .links, as nix-store --optimise does. */
  function optimise(path: StorePath): void {
    const walk = (file: string): void => {
      const st = lstatSync(file);
      if (st.isDirectory()) for (const name of readdirSync(file)) walk(join(file, name));
      else if (st.isFile()) {
        const link = join(store.realStoreDir, ".links", hashPath(file).hash.base32);
        try {
          linkSync(file, link);
        } catch {
          // already pooled
        }
      }
    };
    walk(store.realPath(path));
  }

  beforeEach(async () => {
    root = scratchDir("verify-store");
    store = open();
    const source = makeTree(join(scratchDir("verify-src"), "tree"));
    tree = (await addPath(store, source, { method: "recursive", algorithm: "sha256" })).path;
    const file = join(scratchDir("verify-src"), "single.txt");
    writeFileSync(file, "single\n");
    single = (await addPath(store, file, { method: "flat", algorithm: "sha256" })).path;
    leaf = (await addPath(store, file, { method: "recursive", algorithm: "sha256", name: "leaf" })).path;
    text = (await addText(store, "refers.txt", [Buffer.from(`uses ${store.print(tree)}\n`)], { references: "scan" })).path;
    optimise(tree);
  });

  afterEach(() => store.close());

  test("a store bunix wrote is clean, and the phases come in Nix's order", () => {
    const events: VerifyEvent[] = [];
    const report = verifyStore(store, { checkContents: true, onEvent: (e) => events.push(e) });
    expect(report.problems).toEqual([]);
    expect(report.validPaths).toBe(4);
    expect(report.contentsChecked).toBe(4);
    expect(report.linksChecked).toBe(4);
    expect(report.entriesChecked).toBe(8 + 1 + 1 + 1);
    expect(events.filter((e) => e.type === "phase").map((e) => (e as { phase: string }).phase)).toEqual(["reading", "existence", "metadata", "links", "contents"]);
    const progress = events.filter((e) => e.type === "progress" && e.phase === "contents");
    expect(progress.length).toBe(4);
  });

  test("every kind of damage is reported with its path; --repair fixes what it can", () => {
    const real = (p: StorePath, sub = "") => join(store.realPath(p), sub);
    const makeWritable = (file: string) => chmodSync(file, 0o644);
    // Metadata damage in the tree.
    chmodSync(real(tree, "plain"), 0o644);
    utimesSync(real(tree, "sub/data"), 1000, 1_700_000_000);
    chownSync(real(tree, "tool"), 4242, 4242);
    setXattr(real(tree, "sub/deeper/x"), "user.stray", "1");
    // A changed file in the text object (contents).
    makeWritable(real(text));
    writeFileSync(real(text), "tampered\n");
    chmodSync(real(text), 0o444);
    utimesSync(real(text), 1, 1);
    // The flat file replaced by a FIFO: unsupported type, not readable as a NAR.
    rmSync(real(single));
    Bun.spawnSync(["mkfifo", real(single)]);
    // A leaf nobody refers to is deleted: it is dropped from the database.
    rmSync(real(leaf), { force: true });
    // A .links entry replaced by other contents.
    const links = join(store.realStoreDir, ".links");
    const victim = readdirSync(links)[0]!;
    unlinkSync(join(links, victim));
    writeFileSync(join(links, victim), "not what the name says\n");
    // A recorded NAR size of 0 (old stores) and a wrong one.
    store.db.run("update ValidPaths set narSize = null where path = ?", store.print(tree));

    const events: VerifyEvent[] = [];
    const report = verifyStore(store, { checkContents: true, onEvent: (e) => events.push(e) });
    const find = (kind: string, file?: string) => report.problems.filter((p) => p.kind === kind && (file === undefined || p.file === file));
    expect(find("mode", real(tree, "plain"))[0]?.detail).toContain("mode 0644, should be 0444");
    expect(find("mtime", real(tree, "sub/data")).length).toBe(1);
    expect(find("owner", real(tree, "tool"))[0]?.detail).toContain("owned by uid 4242");
    expect(find("xattr", real(tree, "sub/deeper/x"))[0]?.detail).toContain("user.stray");
    expect(find("modified")[0]?.detail).toMatch(new RegExp(`^path '${store.print(text)}' was modified! expected hash 'sha256:[0-9a-z]{52}', got 'sha256:[0-9a-z]{52}'$`));
    expect(find("unsupported-type")[0]?.path).toBe(store.print(single));
    expect(find("disappeared")[0]).toMatchObject({ path: store.print(leaf), repaired: true });
    expect(store.isValid(leaf)).toBe(false);
    expect(find("link-modified")[0]?.path).toBe(join(links, victim));
    expect(find("nar-size")[0]).toMatchObject({ path: store.print(tree), repaired: true });
    expect(store.queryPathInfo(tree)!.narSize).toBeGreaterThan(0);
    // The unreadable FIFO did not stop the run: the tree after it was hashed.
    expect(report.contentsChecked).toBe(2);
    // Metadata problems are not repaired without --repair.
    expect(report.problems.filter((p) => ["mode", "mtime", "owner", "xattr"].includes(p.kind)).every((p) => !p.repaired)).toBe(true);
    expect(events.some((e) => e.type === "info" && e.message === `path '${store.print(leaf)}' disappeared, removing from database...`)).toBe(true);

    const repaired = verifyStore(store, { checkContents: true, repair: true });
    const left = unresolved(repaired);
    expect(left.map((p) => p.kind).sort()).toEqual(["modified", "unsupported-type"]);
    for (const problem of left) expect(problem.notRepaired).toBeTruthy();
    expect(left.find((p) => p.kind === "modified")!.notRepaired).toContain("cannot substitute or rebuild");
    expect(modeOf(real(tree, "plain"))).toBe(0o444);
    expect(mtimeOf(real(tree, "sub/data"))).toBe(1);
    expect(lstatSync(real(tree, "tool")).uid).toBe(euid);
    expect(llistxattr(real(tree, "sub/deeper/x"))).toEqual([]);
    expect(readdirSync(links)).not.toContain(victim);

    // Putting the contents back leaves nothing to report.
    rmSync(real(single));
    writeFileSync(real(single), "single\n");
    makeWritable(real(text));
    writeFileSync(real(text), `uses ${store.print(tree)}\n`);
    const final = verifyStore(store, { checkContents: true, repair: true });
    expect(unresolved(final)).toEqual([]);
    expect(verifyStore(store, { checkContents: true }).problems).toEqual([]);
  });

  test("a missing path that valid paths refer to stays registered and is an error", () => {
    rmSync(store.realPath(tree), { recursive: true, force: true });
    const report = verifyStore(store, { repair: true });
    const missing: VerifyProblem | undefined = report.problems.find((p) => p.kind === "missing");
    expect(missing).toMatchObject({ path: store.print(tree), repaired: false, nixError: true });
    expect(missing!.detail).toBe(`path '${store.print(tree)}' disappeared, but it still has valid referrers!`);
    expect(store.isValid(tree)).toBe(true);
    // Once its referrer is gone too, both are dropped (referrers first).
    rmSync(store.realPath(text), { force: true });
    const again = verifyStore(store, {});
    expect(again.problems.map((p) => [p.kind, p.path])).toEqual([
      ["disappeared", store.print(text)],
      ["disappeared", store.print(tree)],
    ]);
    expect(store.isValid(tree)).toBe(false);
  });

  test("a wrong recorded NAR size is reported, and corrected with --repair", () => {
    store.db.run("update ValidPaths set narSize = 12345 where path = ?", store.print(single));
    const report = verifyStore(store, { checkContents: true });
    expect(report.problems.map((p) => [p.kind, p.repaired])).toEqual([["nar-size", false]]);
    verifyStore(store, { checkContents: true, repair: true });
    expect(store.queryPathInfo(single)!.narSize).toBe(hashPath(store.realPath(single)).narSize);
  });

  test("checkPath and repairPath", () => {
    expect(checkPath(store, tree).status).toBe("ok");
    chmodSync(store.realPath(tree), 0o755);
    chmodSync(join(store.realPath(tree), "plain"), 0o600);
    lutimesSync(join(store.realPath(tree), "link"), 5, 5);
    // Permissions are not part of the NAR (only the executable bit is).
    expect(checkPath(store, tree).status).toBe("ok");
    const repaired = repairPath(store, tree);
    expect(repaired.fixed.map((i) => i.kind).sort()).toEqual(["mode", "mode", "mtime"]);
    expect(modeOf(join(store.realPath(tree), "plain"))).toBe(0o444);

    chmodSync(join(store.realPath(tree), "plain"), 0o755);
    const modified = checkPath(store, tree);
    expect(modified.status).toBe("modified");
    expect(() => repairPath(store, tree)).toThrow(/cannot repair path '.*-tree': path '.*-tree' was modified!/);

    renameSync(store.realPath(leaf), `${store.realPath(leaf)}.gone`);
    expect(checkPath(store, leaf).status).toBe("unreadable");
    expect(() => repairPath(store, leaf)).toThrow(/cannot repair path '.*-leaf': it is missing/);
  });
});
