/**
 * Temporary roots of bunix daemon connections as other collectors see
 * them. Each connection has its own file, temproots/<pid>-<n>: real Nix's
 * collector, run locally on the same store while the connection lasts,
 * reads the pid from the leading digits, keeps the path and names the
 * daemon as its holder; once the connection has ended, the next collection
 * deletes the path. bunix's FindRoots names the holder the same way.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkerClient } from "../../internal/daemon/client.ts";
import { requireNix, run, runOk } from "../helpers/nix.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

let daemon: TestDaemon;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon("bunix");
});

afterAll(async () => {
  await daemon?.stop();
});

/** A new path, added by real Nix directly (no daemon, so nothing holds it). */
function addFile(name: string): string {
  const file = join(daemon.dir, name);
  writeFileSync(file, `${name}\n`);
  return runOk(["nix-store", "--add", file], { env: daemon.localEnv() }).toString().trim();
}

/** The connection files of the daemon that hold `path`. */
function holders(path: string): string[] {
  const dir = join(daemon.stateDir, "temproots");
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((name) => {
    try {
      return readFileSync(join(dir, name), "latin1").split("\0").includes(path);
    } catch {
      return false; // removed meanwhile
    }
  });
}

test("a connection's temporary root survives a concurrent real nix-store --gc; after the connection, the next one deletes the path", async () => {
  const path = addFile("held-by-a-connection.txt");
  const connection = await WorkerClient.connect(daemon.socket);
  try {
    await connection.setOptions();
    expect(await (await connection.op(11, (w) => w.latin1(path))).u64("result")).toBe(1);
    const files = holders(path);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^${daemon.process.pid}-\\d+$`));

    // Real Nix reads the pid from the name's leading digits (std::stoi) ...
    const rootsByNix = runOk(["nix-store", "--gc", "--print-roots"], { env: daemon.localEnv() }).toString();
    expect(rootsByNix).toContain(`{temp:${daemon.process.pid}} -> ${path}\n`);
    // ... and so does bunix, through the daemon.
    const rootsByBunix = runOk(["nix-store", "--gc", "--print-roots"], { env: daemon.clientEnv() }).toString();
    expect(rootsByBunix).toContain(`{temp:${daemon.process.pid}} -> ${path}\n`);

    const gc = run(["nix-store", "--gc"], { env: daemon.localEnv() });
    expect(gc.code).toBe(0);
    expect(gc.stderr).not.toContain(path);
    expect(existsSync(path)).toBe(true);
    expect(runOk(["nix-store", "--check-validity", "--print-invalid", path], { env: daemon.localEnv() }).toString()).toBe("");
    // The connection still works after the collector read (and left alone) its locked file.
    expect(await (await connection.op(1, (w) => w.latin1(path))).bool("valid")).toBe(true);
  } finally {
    connection.close();
  }
  // The file goes with the connection.
  for (let i = 0; i < 500 && holders(path).length > 0; i++) await Bun.sleep(10);
  expect(holders(path)).toEqual([]);
  const gc = run(["nix-store", "--gc"], { env: daemon.localEnv() });
  expect(gc.code).toBe(0);
  expect(gc.stderr).toContain(`deleting '${path}'`);
  expect(existsSync(path)).toBe(false);
});

test("a daemon collection keeps what another connection holds, and deletes it once that connection is gone", async () => {
  const held = addFile("held-during-daemon-gc.txt");
  const loose = addFile("loose-during-daemon-gc.txt");
  const holder = await WorkerClient.connect(daemon.socket);
  try {
    await holder.setOptions();
    await holder.op(11, (w) => w.latin1(held));
    const gc = run(["nix-store", "--gc"], { env: daemon.clientEnv() });
    expect(gc.code).toBe(0);
    expect(gc.stderr).toContain(`deleting '${loose}'`);
    expect(gc.stderr).not.toContain(held);
    expect(existsSync(held)).toBe(true);
  } finally {
    holder.close();
  }
  for (let i = 0; i < 500 && holders(held).length > 0; i++) await Bun.sleep(10);
  const gc = run(["nix-store", "--gc"], { env: daemon.clientEnv() });
  expect(gc.stderr).toContain(`deleting '${held}'`);
  expect(existsSync(held)).toBe(false);
});
