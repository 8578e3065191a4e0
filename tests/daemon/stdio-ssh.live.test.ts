/**
 * ssh-ng:// through a real OpenSSH server: a private sshd on a loopback
 * port, with a private host key and one client key per daemon whose
 * authorized_keys entry forces the remote command (`bunix daemon --stdio`,
 * or real `nix-daemon --stdio`, each on its own store). Skipped when sshd is
 * not installed or the tests do not run as root.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { bunixBinary, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { DEFAULT_NIX_CONF } from "./support.ts";

// Real Nix clients and daemons on a shared machine: seconds each, more under load.
setDefaultTimeout(60_000);

const SSHD = "/usr/sbin/sshd";
const enabled = existsSync(SSHD) && process.getuid?.() === 0;
if (!enabled) console.warn("stdio-ssh.live.test.ts: skipped (needs root and /usr/sbin/sshd: apt-get install openssh-server)");

type Kind = "bunix" | "nix";

interface Remote {
  kind: Kind;
  dir: string;
  storeDir: string;
  /** The client's environment: NIX_SSHOPTS picks this remote's key (and so its forced command). */
  env: Record<string, string>;
  localEnv: Record<string, string>;
}

let dir: string;
let sshd: Subprocess | undefined;
const remotes: Partial<Record<Kind, Remote>> = {};
const URL = "ssh-ng://root@127.0.0.1";

function sh(argv: string[]): void {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${result.stderr.toString()}`);
}

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

beforeAll(async () => {
  if (!enabled) return;
  requireNix();
  dir = scratchDir("ssh");
  chmodSync(dir, 0o755);
  sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
  const port = await freePort();
  const authorized: string[] = [];
  for (const kind of ["bunix", "nix"] as const) {
    const storeDir = join(dir, kind, "store");
    const confDir = join(dir, kind, "conf");
    mkdirSync(confDir, { recursive: true });
    mkdirSync(join(dir, kind, "state"), { recursive: true });
    writeFileSync(join(confDir, "nix.conf"), DEFAULT_NIX_CONF);
    const storeEnv = { NIX_STORE_DIR: storeDir, NIX_STATE_DIR: join(dir, kind, "state"), NIX_LOG_DIR: join(dir, kind, "log"), NIX_CONF_DIR: confDir };
    const program = kind === "bunix" ? `${bunixBinary()} daemon --stdio` : "nix-daemon --stdio";
    const variables = Object.entries(storeEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    const key = join(dir, `${kind}_key`);
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]);
    authorized.push(`command="env ${variables} ${program}",no-pty,no-port-forwarding ${readFileSync(`${key}.pub`, "utf8").trim()}`);
    const sshOpts = `-p ${port} -i ${key} -o IdentitiesOnly=yes -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR -F /dev/null`;
    remotes[kind] = { kind, dir: join(dir, kind), storeDir, env: nixEnv({ ...storeEnv, NIX_SSHOPTS: sshOpts }), localEnv: nixEnv(storeEnv) };
  }
  writeFileSync(join(dir, "authorized_keys"), `${authorized.join("\n")}\n`);
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${join(dir, "host_key")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
  ];
  writeFileSync(join(dir, "sshd_config"), `${config.join("\n")}\n`);
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // its privilege-separation dir
  const logFile = join(dir, "sshd.log");
  sshd = Bun.spawn([SSHD, "-D", "-e", "-f", join(dir, "sshd_config")], { stdout: Bun.file(logFile), stderr: Bun.file(logFile) });
  const deadline = Date.now() + 10_000;
  while (!(await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then((s) => (s.end(), true)).catch(() => false))) {
    if (sshd.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${readFileSync(logFile, "utf8")}`);
    await Bun.sleep(50);
  }
});

afterAll(async () => {
  if (!sshd) return;
  sshd.kill("SIGTERM");
  await sshd.exited;
});

describe.skipIf(!enabled)("ssh-ng:// through a real sshd (forced command: the daemon with --stdio)", () => {
  const both = (): Remote[] => [remotes.bunix!, remotes.nix!];

  test("nix store ping reaches the daemon", () => {
    for (const remote of both()) {
      const result = run(["nix", "store", "ping", "--store", URL], { env: remote.env });
      expect({ kind: remote.kind, code: result.code, stderr: result.stderr }).toEqual({
        kind: remote.kind,
        code: 0,
        stderr: `Store URL: ${URL}\nVersion: 2.8.0\n`,
      });
    }
  });

  test("adds, queries and NAR fetches answer as the local store does", () => {
    for (const remote of both()) {
      const file = join(remote.dir, "over-ssh.txt");
      writeFileSync(file, `over real ssh to ${remote.kind}\n`);
      const path = runOk(["nix-store", "--store", URL, "--add", file], { env: remote.env }).toString().trim();
      expect(path).toBe(runOk(["nix-store", "--add", file], { env: remote.localEnv }).toString().trim());
      for (const query of [["--hash"], ["--size"], ["--references"]]) {
        const overSsh = runOk(["nix-store", "--store", URL, "-q", ...query, path], { env: remote.env }).toString();
        expect(overSsh).toBe(runOk(["nix-store", "-q", ...query, path], { env: remote.localEnv }).toString());
      }
      const cache = join(remote.dir, "fetched");
      runOk(["nix", "copy", "--from", URL, "--to", `file://${cache}`, path], { env: remote.env });
      const fetched = JSON.parse(runOk(["nix", "path-info", "--json", "--store", `file://${cache}`, path], { env: remote.env }).toString());
      const local = JSON.parse(runOk(["nix", "path-info", "--json", path], { env: remote.localEnv }).toString());
      expect(fetched[0].narHash).toBe(local[0].narHash);
    }
  });
});
