/**
 * Real Unix users and groups for trust tests: created with groupadd/useradd
 * under a `bunix-test-` prefix and a per-run suffix, removed again by
 * `remove()`. Commands run as a user through setpriv with the user's
 * groups; each user gets a private HOME and Nix configuration so that real
 * Nix clients run as them exactly as on a multi-user machine.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type RunResult, nixEnv } from "../helpers/nix.ts";

export interface TestUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** The primary group's name. */
  readonly group: string;
  /** Private HOME (owned by the user); NIX_CONF_DIR is <home>/conf. */
  readonly home: string;
}

/** Whether users can be made here (root with useradd and setpriv). */
export function canManageUsers(): boolean {
  if (process.getuid?.() !== 0) return false;
  return ["useradd", "groupadd", "userdel", "groupdel", "setpriv"].every((tool) => Bun.which(tool, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }) !== null);
}

function system(argv: string[]): void {
  const result = Bun.spawnSync(argv, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${result.exitCode}: ${result.stderr.toString()}`);
}

function idOf(argv: string[]): number {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${result.stderr.toString()}`);
  return Number(result.stdout.toString().trim());
}

export class TestAccounts {
  private readonly groups: string[] = [];
  private readonly users: string[] = [];
  private readonly suffix = Math.random().toString(36).slice(2, 7);

  /** `dir` holds the users' homes; it must be reachable (o+x) by them. */
  constructor(private readonly dir: string) {}

  /** A group named bunix-test-<tag>-<suffix>. */
  group(tag: string): string {
    const name = `bunix-test-${tag}-${this.suffix}`;
    system(["groupadd", name]);
    this.groups.push(name);
    return name;
  }

  /** A user whose primary group is `group` (a new group of its own by default), with supplementary `groups`. */
  user(tag: string, options: { group?: string; groups?: string[]; nixConf?: string } = {}): TestUser {
    const name = `bunix-test-${tag}-${this.suffix}`;
    const group = options.group ?? this.group(`${tag}g`);
    const home = join(this.dir, name);
    const argv = ["useradd", "--no-create-home", "--home-dir", home, "--shell", "/bin/sh", "--gid", group];
    if (options.groups && options.groups.length > 0) argv.push("--groups", options.groups.join(","));
    system([...argv, name]);
    this.users.push(name);
    const uid = idOf(["id", "-u", name]);
    const gid = idOf(["id", "-g", name]);
    mkdirSync(join(home, "conf"), { recursive: true });
    writeFileSync(join(home, "conf/nix.conf"), options.nixConf ?? "experimental-features = nix-command\n");
    for (const path of [home, join(home, "conf"), join(home, "conf/nix.conf")]) chownSync(path, uid, gid);
    chmodSync(home, 0o755);
    return { name, uid, gid, group, home };
  }

  /** Removes every user and group made here (users first: a primary group cannot go before its user). */
  remove(): void {
    for (const name of this.users.splice(0).reverse()) system(["userdel", name]);
    for (const name of this.groups.splice(0).reverse()) system(["groupdel", name]);
  }
}

/** Environment for a real Nix client run as `user`, talking to the daemon at `socket`. */
export function userEnv(user: TestUser, storeEnv: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  return nixEnv({
    HOME: user.home,
    XDG_CACHE_HOME: join(user.home, "cache"),
    XDG_CONFIG_HOME: join(user.home, "config"),
    NIX_CONF_DIR: join(user.home, "conf"),
    ...storeEnv,
    ...extra,
  });
}

/** Runs `argv` as `user` (real uid/gid and supplementary groups) with `env`. */
export function runAs(user: TestUser, argv: string[], env: Record<string, string>, options: { cwd?: string } = {}): RunResult {
  const result = Bun.spawnSync(["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--", ...argv], {
    env,
    cwd: options.cwd ?? user.home,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: result.exitCode ?? -1, stdout: Buffer.from(result.stdout), stderr: result.stderr.toString() };
}
