/**
 * Who builders run as. With `build-users-group = nixbld` (this machine has
 * the group, members nixbld1..10) a builder runs, on the host, as one of its
 * members (two builds at once as two different members), while inside the
 * sandbox's user namespace it sees uid 1000 / gid 100, as with Nix 2.8; the
 * outputs end up root-owned and canonical with no process of the build user
 * left. With the empty group (the tests' default) the host ids are
 * allocated, and the builder sees 1000/100 too.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, nixEnv, requireNix } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { bunix, bunixOk, expectVerifies, instantiate, real } from "./live.ts";

interface Account {
  name: string;
  uid: number;
  gid: number;
}

function nixbldMembers(): { gid: number; members: Account[] } {
  const group = readFileSync("/etc/group", "utf8").split("\n").find((l) => l.startsWith("nixbld:"));
  if (!group) throw new Error("this test needs the nixbld group (members nixbld1..) on the machine");
  const [, , gid, members] = group.split(":") as [string, string, string, string];
  const names = new Set(members.split(",").filter((m) => m !== ""));
  const accounts = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => names.has(f[0]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }));
  return { gid: Number(gid), members: accounts };
}

/** Processes (from /proc) owned by one of the uids. */
function processesOf(uids: ReadonlySet<number>): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (uids.has(uid)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Every entry of a tree: owner, group, mode. */
function owners(path: string): Array<{ uid: number; gid: number; mode: number }> {
  const st = lstatSync(path);
  const here = [{ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }];
  return st.isDirectory() ? [...here, ...readdirSync(path).flatMap((n) => owners(join(path, n)))] : here;
}

let root: string;
let nixbld: ReturnType<typeof nixbldMembers>;

/** Builds with nixbld build users and returns the host uids (of nixbld members) seen running meanwhile. */
async function hostUidsWhileBuilding(drvs: readonly string[], extra: readonly string[] = []): Promise<Set<number>> {
  const members = new Set(nixbld.members.map((m) => m.uid));
  const proc = Bun.spawn([bunixBinary(), "build", "--store", root, "--no-out-link", ...extra, "--option", "build-users-group", "nixbld", ...drvs], { env: nixEnv(), stdout: "pipe", stderr: "pipe" });
  const seen = new Set<number>();
  while (proc.exitCode === null) {
    for (const pid of processesOf(members)) {
      try {
        seen.add(Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]));
      } catch {
        // gone meanwhile
      }
    }
    await Bun.sleep(20);
  }
  expect(await proc.exited).toBe(0);
  return seen;
}

beforeAll(() => {
  requireNix();
  bunixBinary();
  nixbld = nixbldMembers();
  root = join(scratchDir("build-users"), "store");
});

describe("build-users-group = nixbld", () => {
  test("the builder runs as a member of the group on the host and as 1000/100 inside; outputs are root-owned and canonical", async () => {
    const drvs = instantiate(root, "cases.nix", ["whoami", "whoamiSlow.w1"], ["--argstr", "nonce", "nixbld"]);
    const out = bunixOk(["build", "--store", root, "--no-out-link", "--option", "build-users-group", "nixbld", drvs.get("whoami")!]).trim();
    expect(readFileSync(join(real(root, out), "ids"), "utf8")).toBe("1000 100 100\n");
    expect(readFileSync(join(real(root, out), "build-dir"), "utf8")).toBe("1000 100 700\n");
    // On the host, the slow builder's processes belong to a nixbld member.
    const seen = await hostUidsWhileBuilding([drvs.get("whoamiSlow.w1")!]);
    expect(seen.size).toBe(1);
    for (const uid of seen) expect(nixbld.members.map((m) => m.uid)).toContain(uid);
    for (const entry of owners(real(root, out))) {
      expect(entry.uid).toBe(0);
      expect(entry.gid).toBe(0);
      expect([0o444, 0o555]).toContain(entry.mode);
    }
    expect(processesOf(new Set(nixbld.members.map((m) => m.uid)))).toEqual([]);
    expectVerifies(root);
  });

  test("two builds at once run as two different members", async () => {
    const drvs = instantiate(root, "cases.nix", ["whoamiSlow.w1", "whoamiSlow.w2"], ["--argstr", "nonce", "two"]);
    const seen = await hostUidsWhileBuilding([...drvs.values()], ["-j", "2"]);
    expect(seen.size).toBe(2);
    for (const uid of seen) expect(nixbld.members.map((m) => m.uid)).toContain(uid);
  });

  test("a group that does not exist is an error", () => {
    const drv = instantiate(root, "cases.nix", ["whoami"], ["--argstr", "nonce", "missing-group"]).get("whoami")!;
    const result = bunix(["build", "--store", root, "--no-out-link", "--option", "build-users-group", "no-such-group", drv]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("no-such-group");
  });
});

describe("build-users-group empty", () => {
  test("the builder sees uid 1000 and gid 100; outputs are root-owned", () => {
    const drv = instantiate(root, "cases.nix", ["whoami"], ["--argstr", "nonce", "auto"]).get("whoami")!;
    const out = bunixOk(["build", "--store", root, "--no-out-link", "--option", "build-users-group", "", drv]).trim();
    expect(readFileSync(join(real(root, out), "ids"), "utf8")).toBe("1000 100 100\n");
    expect(readFileSync(join(real(root, out), "build-dir"), "utf8")).toBe("1000 100 700\n");
    for (const entry of owners(real(root, out))) expect(entry).toMatchObject({ uid: 0, gid: 0 });
  });
});
