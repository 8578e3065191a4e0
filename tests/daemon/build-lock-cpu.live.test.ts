/**
 * lock-cpu = true: serving a build, the daemon pins its event-loop thread to
 * the client's CPU, and the builder is released from the pin (it may run on
 * every CPU this process may use); by default nothing is pinned.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseDerivation } from "../../internal/derivation/aterm-parse.ts";
import { requireNix } from "../helpers/nix.ts";
import { instantiate, request } from "./build-support.ts";
import { DEFAULT_NIX_CONF, type TestDaemon, startDaemon } from "./support.ts";

let locked: TestDaemon;
let unlocked: TestDaemon;

beforeAll(async () => {
  requireNix();
  [locked, unlocked] = await Promise.all([startDaemon("bunix", { nixConf: `${DEFAULT_NIX_CONF}lock-cpu = true\n` }), startDaemon()]);
});

afterAll(async () => {
  await Promise.all([locked?.stop(), unlocked?.stop()]);
});

function allowedCpus(statusFile: string): string {
  const line = readFileSync(statusFile, "utf8").split("\n").find((l) => l.startsWith("Cpus_allowed_list:"));
  if (!line) throw new Error(`no Cpus_allowed_list in ${statusFile}`);
  return line.split(/\s+/)[1]!;
}

/** Builds `cpus` through the daemon: what its builder could run on. */
async function builderCpus(daemon: TestDaemon): Promise<string> {
  const drv = instantiate(daemon, ["cpus"]).get("cpus")!;
  const exchange = await request(daemon.socket, 9, (w) => w.latin1List([`${drv}!out`]).u64(0), (r) => r.u64("result"));
  expect(exchange.reply).toBe(1);
  const output = parseDerivation(readFileSync(drv)).outputs.get("out")!.path;
  return readFileSync(output, "utf8").trim().split(/\s+/)[1]!;
}

/** The daemon's main (event-loop) thread. */
const daemonThread = (daemon: TestDaemon) => `/proc/${daemon.process.pid}/task/${daemon.process.pid}/status`;

describe("lock-cpu", () => {
  const everything = allowedCpus("/proc/self/status");

  test("with lock-cpu the daemon's thread is pinned to one CPU, and the builder is not", async () => {
    expect(await builderCpus(locked)).toBe(everything);
    expect(allowedCpus(daemonThread(locked))).toMatch(/^\d+$/);
  });

  test("without it nothing is pinned", async () => {
    expect(await builderCpus(unlocked)).toBe(everything);
    expect(allowedCpus(daemonThread(unlocked))).toBe(everything);
  });
});
