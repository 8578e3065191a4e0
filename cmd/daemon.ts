/**
 * `bunix daemon` (and the nix-daemon alias): serves the worker protocol to
 * Nix 2.8 clients on a Unix socket, or on stdin/stdout with --stdio. Runs in
 * the foreground until SIGTERM or SIGINT.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { CAC } from "cac";
import { Daemon } from "../internal/daemon/server.ts";
import { commandGroup, runCac, single } from "./cli.ts";
import { type StoreFlags, commandSettings, openStore, withStoreOptions } from "./store-options.ts";

export interface DaemonFlags extends StoreFlags {
  socket?: unknown;
  stdio?: boolean;
}

/** The socket path: --socket, else NIX_DAEMON_SOCKET_PATH, else <state dir>/daemon-socket/socket. */
export function daemonSocketPath(flag: string | undefined, stateDir: string): string {
  return flag ?? process.env.NIX_DAEMON_SOCKET_PATH ?? join(stateDir, "daemon-socket", "socket");
}

const note = (message: string) => process.stderr.write(`${message}\n`);

export async function runDaemon(flags: DaemonFlags): Promise<number> {
  const socketFlag = single(flags.socket, "--socket");
  const store = openStore(flags, "write");
  const daemon = new Daemon({ store, settings: commandSettings(), note });
  if (flags.stdio) {
    await daemon.serveStdio();
    store.close();
    return 0;
  }
  const socketPath = daemonSocketPath(socketFlag, store.stateDir);
  // Handlers first: a signal may come as soon as the socket exists.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      note(`${signal} received, shutting down`);
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  daemon.listen(socketPath);
  note(`bunix daemon listening on '${socketPath}'`);
  await stopped;
  daemon.stop();
  rmSync(socketPath, { force: true });
  store.close();
  return 0;
}

export function daemonCli(): CAC {
  const cli = commandGroup("bunix daemon");
  withStoreOptions(
    cli
      .command("", "Serve the Nix worker protocol (nix-daemon) to local clients")
      .option("--socket <path>", "Listen here (default: $NIX_DAEMON_SOCKET_PATH or <state dir>/daemon-socket/socket)")
      .option("--stdio", "Serve one connection on stdin/stdout (for ssh-ng://); the peer is trusted"),
  ).action(runDaemon);
  return cli;
}

export const run = (argv: readonly string[]) => runCac(daemonCli(), argv);
