// The hard-link attack (formats.md 6.5): a builder that makes its output
// another name of a file outside the build must fail, and the file must keep
// its owner, mode and times (canonicalising the output would have changed
// them). Sandboxed in a chroot store, and unsandboxed (sandbox = false, and
// relaxed with __noChroot) as a real build user of the `nixbld` group.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, requireNix } from "../helpers/nix.ts";
import { SANDBOX_NIX, type TestStore, bunixBuild, buildOk, chrootStore, directStore, discard, instantiate, nixQuery } from "./support.ts";

function fingerprint(path: string) {
  const st = lstatSync(path);
  return { mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, ino: st.ino, content: readFileSync(path, "latin1") };
}

/** Nix's output path of a derivation, asked of real Nix. */
function outputOf(store: TestStore, drv: string): string {
  return nixQuery(store, "--outputs", [drv])[0]!;
}

function isValid(store: TestStore, path: string): boolean {
  const result = Bun.spawnSync(["nix-store", ...store.storeArgs, "--check-validity", path], { env: store.env, stderr: "pipe" });
  return result.exitCode === 0;
}

beforeAll(() => {
  requireNix();
  bunixBinary();
});

describe("in the sandbox", () => {
  let store: TestStore;
  let drvs: string[];
  beforeAll(() => {
    store = chrootStore("sandbox-links");
    drvs = instantiate(store, SANDBOX_NIX, ["lone", "linkInput", "linkWithin"]);
  });
  afterAll(() => discard(store));

  test("linking an input file into the output fails and leaves the input alone", async () => {
    const [lone] = await buildOk(store, [drvs[0]!]);
    const before = fingerprint(store.real(lone!));
    const result = await bunixBuild(store, [drvs[1]!]);
    expect(result.code).not.toBe(0);
    // The kernel's protected_hardlinks refuses it first; without it bunix's own check does.
    expect(result.stderr).toMatch(/Operation not permitted|suspicious ownership|hard link/);
    expect(fingerprint(store.real(lone!))).toEqual(before);
    expect(lstatSync(store.real(lone!)).nlink).toBe(1);
    expect(isValid(store, outputOf(store, drvs[1]!))).toBe(false);
    expect(existsSync(store.real(outputOf(store, drvs[1]!)))).toBe(false);
  });

  test("hard links within the output are fine", async () => {
    const [out] = await buildOk(store, [drvs[2]!]);
    const a = lstatSync(join(store.real(out!), "a"));
    const b = lstatSync(join(store.real(out!), "b"));
    expect(b.ino).toBe(a.ino);
    expect(readFileSync(join(store.real(out!), "b"), "utf8")).toBe("mine\n");
  });
});

describe("without the sandbox, as a build user", () => {
  let store: TestStore;
  let victim: string;
  let drvs: Record<string, string>;
  const asBuildUser = ["--option", "build-users-group", "nixbld"];
  beforeAll(() => {
    store = directStore("sandbox-links-host");
    // A root-owned file anyone may write: the kernel lets any user link it, so only bunix's check stands in the way.
    victim = join(store.dir, "victim");
    writeFileSync(victim, "not the build's\n");
    chmodSync(victim, 0o666);
    const attrs = ["linkShadow", "linkVictim", "linkVictimNoChroot"];
    const paths = instantiate(store, SANDBOX_NIX, attrs, { victim });
    drvs = Object.fromEntries(attrs.map((a, i) => [a, paths[i]!]));
  });
  afterAll(() => discard(store));

  test("ln /etc/shadow $out/x fails and /etc/shadow is untouched", async () => {
    const before = fingerprint("/etc/shadow");
    const result = await bunixBuild(store, ["--option", "sandbox", "false", ...asBuildUser, drvs.linkShadow!]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Operation not permitted|suspicious ownership|hard link/);
    expect(fingerprint("/etc/shadow")).toEqual(before);
    expect(isValid(store, outputOf(store, drvs.linkShadow!))).toBe(false);
  });

  test("a foreign file linked into the output is rejected, with sandbox = false", async () => {
    const before = fingerprint(victim);
    const out = outputOf(store, drvs.linkVictim!);
    for (let attempt = 0; attempt < 2; attempt++) {
      // The second attempt also shows that the rejected leftover is cleared out of the builder's way.
      const result = await bunixBuild(store, ["--option", "sandbox", "false", ...asBuildUser, drvs.linkVictim!]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`error: suspicious ownership or permission on '${out}/x' (owner uid 0, not the build user's`);
      expect(fingerprint(victim)).toEqual(before);
      expect(isValid(store, out)).toBe(false);
    }
  });

  test("a foreign file linked into the output is rejected, with sandbox = relaxed and __noChroot", async () => {
    const before = fingerprint(victim);
    const out = outputOf(store, drvs.linkVictimNoChroot!);
    const result = await bunixBuild(store, ["--option", "sandbox", "relaxed", ...asBuildUser, drvs.linkVictimNoChroot!]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`suspicious ownership or permission on '${out}/x'`);
    expect(fingerprint(victim)).toEqual(before);
    expect(isValid(store, out)).toBe(false);
  });

  test("__noChroot is refused when sandbox = true", async () => {
    const result = await bunixBuild(store, ["--option", "sandbox", "true", ...asBuildUser, drvs.linkVictimNoChroot!]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("has '__noChroot' set, but that's not allowed when 'sandbox' is 'true'");
  });

  test("without build users (the builder runs as root) the link is still rejected", async () => {
    const before = fingerprint(victim);
    const out = outputOf(store, drvs.linkVictim!);
    const result = await bunixBuild(store, ["--option", "sandbox", "false", "--option", "build-users-group", "", drvs.linkVictim!]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`'${out}/x' is a hard link to a file outside the build's outputs`);
    expect(fingerprint(victim)).toEqual(before);
    expect(isValid(store, out)).toBe(false);
  });
});
