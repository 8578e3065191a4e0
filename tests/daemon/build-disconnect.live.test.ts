/**
 * Builds of several clients at once on bunix's one-process daemon: a client
 * whose builder runs for long does not hold up another client's build, a
 * client that hangs up in the middle of a build has its builder killed and
 * nothing of the build registered, while the daemon goes on serving, and a
 * client that does not read its build's log holds up only that builder (the
 * daemon does not buffer the log), and gets every line once it reads.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { WorkerClient } from "../../internal/daemon/client.ts";
import { parseDerivation } from "../../internal/derivation/aterm-parse.ts";
import { requireNix } from "../helpers/nix.ts";
import { instantiate, request } from "./build-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

let daemon: TestDaemon;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon();
});

afterAll(async () => {
  await daemon?.stop();
});

/** Pids of processes running `sleep <seconds>` (the slow builder, found by its unusual duration). */
function sleepers(seconds: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "latin1") === `sleep\0${seconds}\0`) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Polls `condition` every `everyMs` for up to ten seconds. */
async function until(condition: () => boolean, what: string, everyMs = 10): Promise<void> {
  for (let i = 0; i < 10_000 / everyMs; i++) {
    if (condition()) return;
    await Bun.sleep(everyMs);
  }
  throw new Error(`gave up waiting: ${what}`);
}

/** Starts BuildPaths of a slow derivation on a connection of its own and returns it once the builder runs. */
async function startSlowBuild(seconds: string): Promise<{ client: WorkerClient; drv: string; output: string; finished: Promise<unknown> }> {
  const drv = instantiate(daemon, ["slow"], { sleepFor: seconds }).get("slow")!;
  const output = parseDerivation(readFileSync(drv)).outputs.get("out")!.path;
  const client = await WorkerClient.connect(daemon.socket);
  await client.setOptions();
  const finished = client.op(9, (w) => w.latin1List([`${drv}!out`]).u64(0)).catch((error: unknown) => error);
  await until(() => sleepers(seconds).length > 0, "the slow builder to start");
  return { client, drv, output, finished };
}

async function isValid(path: string): Promise<boolean> {
  const exchange = await request(daemon.socket, 1, (w) => w.latin1(path), (r) => r.bool("valid"));
  return exchange.reply as boolean;
}

describe("several clients", () => {
  test("a long build of one client does not hold up another's", async () => {
    const slow = await startSlowBuild("4242");
    const leaf = instantiate(daemon, ["leaf"]).get("leaf")!;
    const quick = await request(daemon.socket, 46, (w) => w.latin1List([`${leaf}!out`]).u64(0), async (r) => {
      const n = await r.u64("count");
      await r.latin1("path");
      return { n, status: await r.u64("status") };
    });
    expect(quick.reply).toEqual({ n: 1, status: 0 });
    // The other build was still running all along.
    expect(sleepers("4242").length).toBeGreaterThan(0);
    slow.client.close();
    await until(() => sleepers("4242").length === 0, "the slow builder to be killed");
  });

  test("a client hanging up mid-build: the builder is killed, nothing is registered, the daemon goes on", async () => {
    const slow = await startSlowBuild("4343");
    const chroot = `${slow.drv}.chroot`;
    slow.client.close();
    await until(() => sleepers("4343").length === 0, "the builder to be killed");
    await until(() => !existsSync(chroot), "the sandbox root to be removed");
    expect(await isValid(slow.output)).toBe(false);
    expect(existsSync(slow.output)).toBe(false);
    // Still serving: a new client builds.
    const trivial = instantiate(daemon, ["trivial"]).get("trivial")!;
    const built = await request(daemon.socket, 9, (w) => w.latin1List([`${trivial}!out`]).u64(0), (r) => r.u64("result"));
    expect(built.reply).toBe(1);
    expect(daemon.process.exitCode).toBeNull();
  });

  test("a daemon stopped mid-build leaves no builder running", async () => {
    const other = await startDaemon();
    let stopped = false;
    try {
      const drv = instantiate(other, ["slow"], { sleepFor: "4444" }).get("slow")!;
      const client = await WorkerClient.connect(other.socket);
      await client.setOptions();
      void client.op(9, (w) => w.latin1List([`${drv}!out`]).u64(0)).catch(() => undefined);
      await until(() => sleepers("4444").length > 0, "the slow builder to start");
      expect(await other.stop()).toBe(0);
      stopped = true;
      await until(() => sleepers("4444").length === 0, "the builder to die with the daemon");
      client.close();
    } finally {
      if (!stopped) await other.stop();
    }
  });

  test("the same derivation asked for by two clients at once is built once, both succeed", async () => {
    const drv = instantiate(daemon, ["mid"], { nonce: "twice" }).get("mid")!;
    const build = () => request(daemon.socket, 46, (w) => w.latin1List([`${drv}!out`]).u64(0), async (r) => {
      await r.u64("count");
      await r.latin1("path");
      const status = await r.u64("status");
      await r.text("errorMsg");
      return { status, timesBuilt: await r.u64("timesBuilt") };
    });
    const [a, b] = await Promise.all([build(), build()]);
    const results = [a.reply, b.reply] as Array<{ status: number; timesBuilt: number }>;
    // One builds (Built), the other finds it valid once it holds the lock (AlreadyValid).
    expect(results.map((r) => r.status).sort()).toEqual([0, 2]);
    expect(results.map((r) => r.timesBuilt).sort()).toEqual([0, 1]);
  });

  test("a client that stops reading: its builder waits (the daemon does not buffer the log), every line arrives later", async () => {
    const megabytes = 20;
    const drv = instantiate(daemon, ["flood"], { sleepFor: String(megabytes) }).get("flood")!;
    const base = drv.slice(daemon.storeDir.length + 1);
    const log = join(daemon.logDir, "drvs", base.slice(0, 2), base.slice(2));
    const logged = () => (existsSync(log) ? statSync(log).size : 0);
    const client = await WorkerClient.connect(daemon.socket);
    await client.setOptions();
    // The request goes out, but nothing is read: once the daemon has about a megabyte for the client, the builder is left blocked.
    client.writer.u64(9).latin1List([`${drv}!out`]).u64(0);
    await client.send();
    let last = -1;
    await until(() => {
      const now = logged();
      const stable = now > 0 && now === last;
      last = now;
      return stable;
    }, "the build log to stop growing", 200);
    expect(logged()).toBeLessThan((megabytes * 1_000_000) / 2);
    await client.readStderr();
    expect(await client.reader.u64("result")).toBe(1);
    const lines = client.messages.filter((m) => m.kind === "result" && m.type === 101);
    const line = "a line of log output from the flood builder";
    expect(lines).toHaveLength(Math.ceil((megabytes * 1_000_000) / (line.length + 1)));
    expect(logged()).toBe(megabytes * 1_000_000);
    client.close();
  }, 60_000);
});
