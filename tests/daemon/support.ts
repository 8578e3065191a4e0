/**
 * Daemons for tests: bunix's (`bunix daemon`) or real Nix's (`nix-daemon`),
 * each on a private socket over a throw-away store whose logical and real
 * directory are the same (clients on the same machine read the store
 * directly, as real Nix clients do). `clientEnv` points real Nix clients at
 * the daemon with NIX_REMOTE=unix://...; `localEnv` opens the same store
 * directly.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { bunixBinary, nixEnv } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

export const DEFAULT_NIX_CONF = "substituters =\nbuild-users-group =\nsandbox-paths = /bin/sh=/bin/busybox\nexperimental-features = nix-command\n";

export interface TestDaemon {
  readonly kind: "bunix" | "nix";
  readonly dir: string;
  readonly socket: string;
  readonly storeDir: string;
  readonly stateDir: string;
  readonly logDir: string;
  /** The daemon's NIX_CONF_DIR. */
  readonly confDir: string;
  /** For real Nix clients talking to the daemon. */
  clientEnv(extra?: Record<string, string>): Record<string, string>;
  /** For tools opening the same store directly (no daemon). */
  localEnv(extra?: Record<string, string>): Record<string, string>;
  /** What the daemon wrote to stderr so far. */
  log(): string;
  readonly process: Subprocess;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number>;
}

export interface DaemonOptions {
  /** nix.conf of the daemon (default: no substituters, no build users, busybox as /bin/sh). */
  nixConf?: string;
  /** Extra words after `bunix daemon` / `nix-daemon`. */
  args?: string[];
  /** Extra environment for the daemon. */
  env?: Record<string, string>;
  /** An existing directory to use (to restart a daemon on the same store). */
  dir?: string;
  /** Words before the daemon's command, e.g. ["prlimit", "--as=..."] to run it under limits. */
  wrap?: string[];
}

async function waitForSocket(path: string, proc: Subprocess, logFile: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!existsSync(path)) {
    if (proc.exitCode !== null) throw new Error(`the daemon exited with ${proc.exitCode}: ${readFileSync(logFile, "utf8")}`);
    if (Date.now() > deadline) throw new Error(`the daemon did not create ${path}: ${readFileSync(logFile, "utf8")}`);
    await Bun.sleep(20);
  }
}

export async function startDaemon(kind: "bunix" | "nix" = "bunix", options: DaemonOptions = {}): Promise<TestDaemon> {
  const dir = options.dir ?? scratchDir(`daemon-${kind}`);
  const storeDir = join(dir, "store");
  const stateDir = join(dir, "state");
  const logDir = join(dir, "log");
  const confDir = join(dir, "conf");
  const socket = join(dir, "daemon.sock");
  mkdirSync(confDir, { recursive: true });
  // Without an existing state dir, nix-daemon's store `auto` resolves to the daemon socket
  // itself: every connection would relay to a new connection (a fork storm).
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(confDir, "nix.conf"), options.nixConf ?? DEFAULT_NIX_CONF);
  const storeEnv = { NIX_STORE_DIR: storeDir, NIX_STATE_DIR: stateDir, NIX_LOG_DIR: logDir };
  const daemonEnv = nixEnv({ ...storeEnv, NIX_CONF_DIR: confDir, NIX_DAEMON_SOCKET_PATH: socket, ...options.env });
  const command = kind === "bunix" ? [bunixBinary(), "daemon", ...(options.args ?? [])] : ["nix-daemon", ...(options.args ?? [])];
  const argv = [...(options.wrap ?? []), ...command];
  const logFile = join(dir, `${kind}-daemon.log`);
  const proc = Bun.spawn(argv, { env: daemonEnv, stdin: "ignore", stdout: Bun.file(logFile), stderr: Bun.file(logFile) });
  await waitForSocket(socket, proc, logFile);
  return {
    kind,
    dir,
    socket,
    storeDir,
    stateDir,
    logDir,
    confDir,
    clientEnv: (extra = {}) => nixEnv({ ...storeEnv, NIX_REMOTE: `unix://${socket}`, ...extra }),
    localEnv: (extra = {}) => nixEnv({ ...storeEnv, NIX_CONF_DIR: confDir, ...extra }),
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    process: proc,
    async stop() {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
}
