/**
 * Who may connect and who is trusted (worker-protocol.md 7), with real Unix
 * users running real Nix 2.8 clients against bunix's daemon and, side by
 * side, against real nix-daemon with the same nix.conf: the same users are
 * refused, admitted and trusted, with the same messages.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nixEnv, requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { DEFAULT_NIX_CONF, type TestDaemon, startDaemon } from "./support.ts";
import { TestAccounts, type TestUser, canManageUsers, runAs, userEnv } from "./users.ts";

// Real Nix clients and daemons on a shared machine: seconds each, more under load.
setDefaultTimeout(60_000);

const enabled = canManageUsers();
if (!enabled) console.warn("trust.live.test.ts: skipped (needs root with useradd/groupadd/setpriv)");

let dir: string;
let accounts: TestAccounts;
/** Users by role: see beforeAll. */
const u: Record<string, TestUser> = {};
let groupNames: { primary: string; supplementary: string; trusted: string; builders: string };

beforeAll(() => {
  if (!enabled) return;
  requireNix();
  dir = scratchDir("trust");
  chmodSync(dir, 0o755); // users reach the daemons' sockets and stores through it
  accounts = new TestAccounts(dir);
  groupNames = {
    primary: accounts.group("prim"),
    supplementary: accounts.group("supp"),
    trusted: accounts.group("trustg"),
    builders: accounts.group("bld"),
  };
  u.stranger = accounts.user("stranger");
  u.named = accounts.user("named");
  u.primary = accounts.user("primary", { group: groupNames.primary });
  u.member = accounts.user("member", { groups: [groupNames.supplementary] });
  u.builder = accounts.user("builder", { group: groupNames.builders });
  u.trustedByName = accounts.user("tname");
  u.trustedByGroup = accounts.user("tgroup", { groups: [groupNames.trusted] });
});

afterAll(() => {
  accounts?.remove();
});

/** A daemon of `kind` in its own reachable directory. */
async function daemonWith(kind: "bunix" | "nix", conf: string): Promise<TestDaemon> {
  const daemonDir = join(dir, `${kind}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(daemonDir, { mode: 0o755 });
  chmodSync(daemonDir, 0o755);
  return startDaemon(kind, { nixConf: DEFAULT_NIX_CONF + conf, dir: daemonDir });
}

function storeEnv(daemon: TestDaemon): Record<string, string> {
  return { NIX_STORE_DIR: daemon.storeDir, NIX_STATE_DIR: daemon.stateDir, NIX_LOG_DIR: daemon.logDir, NIX_REMOTE: `unix://${daemon.socket}` };
}

function ping(daemon: TestDaemon, user: TestUser) {
  return runAs(user, ["nix", "store", "ping", "--store", `unix://${daemon.socket}`], userEnv(user, storeEnv(daemon)));
}

/** What a real client says when the daemon closes the socket on it. */
const REFUSED =
  /^Store URL: unix:\/\/<socket>\nerror: cannot open connection to remote store 'unix:\/\/<socket>': error: (reading from file: Connection reset by peer|writing to file: Broken pipe)$/;

/** The raw view of a connection attempt by `user`: bytes received, and who ended it (peer-probe.ts). */
function probe(daemon: TestDaemon, user: TestUser): { received: number; outcome: string } {
  const result = runAs(user, [process.execPath, join(import.meta.dir, "peer-probe.ts"), daemon.socket], userEnv(user, {}));
  if (result.code !== 0) throw new Error(`peer-probe.ts failed against ${daemon.kind}: ${result.stderr}\n${daemon.log()}`);
  return JSON.parse(result.stdout.toString());
}

/** The daemon's log reaches its file a little after the client has its answer. */
async function waitForLog(daemon: TestDaemon, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!daemon.log().includes(text)) {
    if (Date.now() > deadline) throw new Error(`${daemon.kind} daemon never logged "${text}"; its log:\n${daemon.log()}`);
    await Bun.sleep(20);
  }
}

/** The client's error with the daemon-specific socket path taken out. */
function clientError(daemon: TestDaemon, stderr: string): string {
  return stderr.replaceAll(daemon.socket, "<socket>").trim();
}

describe.skipIf(!enabled)("admission with real users (bunix daemon vs nix-daemon)", () => {
  const daemons: Partial<Record<"bunix" | "nix", TestDaemon>> = {};

  beforeAll(async () => {
    const conf =
      `allowed-users = ${u.named!.name} @${groupNames.primary} @${groupNames.supplementary} ${u.builder!.name}\n` +
      `trusted-users = root ${u.trustedByName!.name} @${groupNames.trusted} ${u.builder!.name}\n` +
      `build-users-group = ${groupNames.builders}\n`;
    daemons.bunix = await daemonWith("bunix", conf);
    daemons.nix = await daemonWith("nix", conf);
  });

  afterAll(async () => {
    await daemons.bunix?.stop();
    await daemons.nix?.stop();
  });

  test("a user in no list is refused without a byte sent, as by nix-daemon", async () => {
    for (const daemon of [daemons.bunix!, daemons.nix!]) {
      expect({ kind: daemon.kind, ...probe(daemon, u.stranger!) }).toEqual({ kind: daemon.kind, received: 0, outcome: "closed" });
      const result = ping(daemon, u.stranger!);
      expect(result.code).toBe(1);
      // Whether the client meets the closed socket writing or reading is a race, with either daemon.
      expect(clientError(daemon, result.stderr)).toMatch(REFUSED);
      await waitForLog(daemon, `error processing connection: user '${u.stranger!.name}' is not allowed to connect to the Nix daemon`);
      expect(existsSync(join(daemon.stateDir, "profiles/per-user", u.stranger!.name))).toBe(false);
    }
    expect(probe(daemons.bunix!, u.named!)).toEqual({ received: 16, outcome: "answered" });
  });

  test("members of build-users-group are refused even when listed and trusted", async () => {
    for (const daemon of [daemons.bunix!, daemons.nix!]) {
      expect({ kind: daemon.kind, ...probe(daemon, u.builder!) }).toEqual({ kind: daemon.kind, received: 0, outcome: "closed" });
      const result = ping(daemon, u.builder!);
      expect(clientError(daemon, result.stderr)).toMatch(REFUSED);
      await waitForLog(daemon, `user '${u.builder!.name}' is not allowed to connect to the Nix daemon`);
    }
  });

  test.each(["named", "primary", "member"])("a user allowed by %s entry connects, untrusted", async (role) => {
    for (const daemon of [daemons.bunix!, daemons.nix!]) {
      const user = u[role]!;
      const result = ping(daemon, user);
      expect({ kind: daemon.kind, code: result.code, output: result.stderr }).toEqual({ kind: daemon.kind, code: 0, output: `Store URL: unix://${daemon.socket}\nVersion: 2.8.0\n` });
      await waitForLog(daemon, `, user ${user.name}\n`);
    }
  });

  test.each(["trustedByName", "trustedByGroup"])("a user in trusted-users (%s) is logged as trusted", async (role) => {
    for (const daemon of [daemons.bunix!, daemons.nix!]) {
      const user = u[role]!;
      expect(ping(daemon, user).code).toBe(0);
      await waitForLog(daemon, `, user ${user.name} (trusted)\n`);
      expect(daemon.log()).toMatch(new RegExp(`accepted connection from pid \\d+, user ${user.name} \\(trusted\\)\\n`));
    }
  });

  test("the daemon makes the user's profile and GC-root directories, owned by the user, mode 0755", () => {
    for (const daemon of [daemons.bunix!, daemons.nix!]) {
      expect(ping(daemon, u.named!).code).toBe(0);
      for (const base of ["profiles", "gcroots"]) {
        const stat = statSync(join(daemon.stateDir, base, "per-user", u.named!.name));
        expect({ kind: daemon.kind, base, uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777 }).toEqual({
          kind: daemon.kind,
          base,
          uid: u.named!.uid,
          gid: process.getgid!(),
          mode: 0o755,
        });
      }
    }
  });
});

describe.skipIf(!enabled)("allowed-users = * (the default)", () => {
  test("any user connects, and only root is trusted", async () => {
    const daemon = await daemonWith("bunix", "");
    try {
      const result = ping(daemon, u.stranger!);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain("Version: 2.8.0");
      await waitForLog(daemon, `, user ${u.stranger!.name}\n`);
    } finally {
      await daemon.stop();
    }
  });
});

/** A derivation whose output says whether its builder could see a file of the host (it cannot in a sandbox). */
function sandboxProbe(): string {
  const file = join(dir, "sandbox-probe.nix");
  const marker = join(dir, "host-marker");
  writeFileSync(marker, "");
  writeFileSync(
    file,
    `{ nonce }: derivation {
  name = "sandbox-probe";
  system = "x86_64-linux";
  builder = "/bin/sh";
  args = [ "-c" "if [ -e ${marker} ]; then echo unsandboxed; else echo sandboxed; fi > $out; echo \${nonce} >> $out" ];
}
`,
  );
  chmodSync(file, 0o644);
  return file;
}

describe.skipIf(!enabled)("what trust allows (bunix daemon vs nix-daemon)", () => {
  const daemons: Partial<Record<"bunix" | "nix", TestDaemon>> = {};
  let probe: string;

  beforeAll(async () => {
    const conf = `trusted-users = root ${u.trustedByName!.name}\n`;
    daemons.bunix = await daemonWith("bunix", conf);
    daemons.nix = await daemonWith("nix", conf);
    probe = sandboxProbe();
  });

  afterAll(async () => {
    await daemons.bunix?.stop();
    await daemons.nix?.stop();
  });

  function buildProbe(daemon: TestDaemon, user: TestUser, nonce: string, extra: string[] = []) {
    const argv = ["nix-build", "--no-out-link", probe, "--argstr", "nonce", nonce, ...extra];
    return runAs(user, argv, userEnv(user, storeEnv(daemon)));
  }

  test("an untrusted user's sandbox = false is ignored: the build still runs in the sandbox", () => {
    for (const daemon of [daemons.bunix!, daemons.nix!]) {
      const result = buildProbe(daemon, u.stranger!, `untrusted-${daemon.kind}`, ["--option", "sandbox", "false"]);
      expect({ kind: daemon.kind, code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ kind: daemon.kind, code: 0, stderr: "" });
      expect(readFileSync(result.stdout.toString().trim(), "utf8")).toBe(`sandboxed\nuntrusted-${daemon.kind}\n`);
    }
  });

  test("a trusted user's sandbox = false is applied", () => {
    for (const daemon of [daemons.bunix!, daemons.nix!]) {
      const result = buildProbe(daemon, u.trustedByName!, `trusted-${daemon.kind}`, ["--option", "sandbox", "false"]);
      expect({ kind: daemon.kind, code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ kind: daemon.kind, code: 0, stderr: "" });
      expect(readFileSync(result.stdout.toString().trim(), "utf8")).toBe(`unsandboxed\ntrusted-${daemon.kind}\n`);
    }
  });

  test("an untrusted user cannot repair, as with nix-daemon", () => {
    const errors = [daemons.bunix!, daemons.nix!].map((daemon) => {
      const built = buildProbe(daemon, u.stranger!, "repair");
      expect(built.code).toBe(0);
      const result = buildProbe(daemon, u.stranger!, "repair", ["--repair"]);
      expect(result.code).not.toBe(0);
      return result.stderr;
    });
    expect(errors[0]).toContain("repairing is not allowed because you are not in 'trusted-users'");
    expect(errors[0]).toBe(errors[1]!);
  });

  test("an untrusted user cannot add signatures, a trusted one can", () => {
    const keyDir = join(dir, "keys");
    mkdirSync(keyDir, { recursive: true, mode: 0o755 });
    const secret = join(keyDir, "secret");
    writeFileSync(secret, runOk(["nix", "--extra-experimental-features", "nix-command", "key", "generate-secret", "--key-name", "bunix-test-1"]));
    chmodSync(secret, 0o644);
    const outcomes = [daemons.bunix!, daemons.nix!].map((daemon) => {
      const file = join(daemon.dir, "to-sign.txt");
      writeFileSync(file, "sign me\n");
      chmodSync(file, 0o644);
      const path = runAs(u.stranger!, ["nix-store", "--add", file], userEnv(u.stranger!, storeEnv(daemon))).stdout.toString().trim();
      const sign = (user: TestUser) => runAs(user, ["nix", "store", "sign", "-k", secret, path], userEnv(user, storeEnv(daemon)));
      const refused = sign(u.stranger!);
      const allowed = sign(u.trustedByName!);
      const info = JSON.parse(runAs(u.stranger!, ["nix", "path-info", "--json", path], userEnv(u.stranger!, storeEnv(daemon))).stdout.toString());
      const keys = (info[0].signatures as string[]).map((sig) => sig.split(":")[0]);
      return { refusedCode: refused.code, refused: refused.stderr, allowedCode: allowed.code, allowed: allowed.stderr, keys };
    });
    expect(outcomes[0]!.refused).toContain("you are not privileged to add signatures");
    expect(outcomes[0]!.keys).toEqual(["bunix-test-1"]);
    expect(outcomes[0]).toEqual(outcomes[1]!);
  });

  test("an untrusted user cannot copy in an unsigned input-addressed path even with --no-check-sigs, a trusted one can", () => {
    const outcomes = [daemons.bunix!, daemons.nix!].map((daemon) => {
      // The source: an unsigned binary cache for the daemon's store dir, readable by the users.
      const cache = join(daemon.dir, "cache");
      const file = join(daemon.dir, "copied.txt");
      writeFileSync(file, "copied in\n");
      const path = runOk(["nix-store", "--store", `file://${cache}`, "--add", file], { env: nixEnv({ NIX_STORE_DIR: daemon.storeDir }) }).toString().trim();
      // Without its content address the path is only as good as its (missing) signatures.
      const narinfo = join(cache, `${path.slice(daemon.storeDir.length + 1, daemon.storeDir.length + 33)}.narinfo`);
      writeFileSync(narinfo, readFileSync(narinfo, "utf8").replace(/^CA: .*\n/m, ""));
      runOk(["chmod", "-R", "a+rX", cache]);
      const copy = (user: TestUser) => runAs(user, ["nix", "copy", "--no-check-sigs", "--from", `file://${cache}`, "--to", `unix://${daemon.socket}`, path], userEnv(user, storeEnv(daemon)));
      const refused = copy(u.stranger!);
      const allowed = copy(u.trustedByName!);
      const unsay = (text: string) => text.replaceAll(daemon.dir, "<dir>").replaceAll(path.slice(daemon.storeDir.length), "<path>");
      return { refusedCode: refused.code, refused: unsay(refused.stderr), allowedCode: allowed.code, allowed: unsay(allowed.stderr) };
    });
    expect(outcomes[0]!.refused).toContain("because it lacks a valid signature");
    expect(outcomes[0]!.allowedCode).toBe(0);
    expect(outcomes[0]).toEqual(outcomes[1]!);
  });
});
