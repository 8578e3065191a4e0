/**
 * Roots and paths kept for clients by bunix's daemon: AddTempRoot holds a
 * path for as long as the connection lasts, AddIndirectRoot registers a
 * client's link in gcroots/auto (both honoured by real Nix's collector run
 * on the same store), EnsurePath, SyncWithGC, and RegisterDrvOutput refused
 * as nix-daemon refuses it (the connection goes on).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkerClient } from "../../internal/daemon/client.ts";
import { encodeBase32 } from "../../internal/hash/base32.ts";
import { hashBytes } from "../../internal/hash/hasher.ts";
import { requireNix, runOk } from "../helpers/nix.ts";
import { describeMessages, normalise, request, vectorExchange } from "./build-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

let daemon: TestDaemon;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon();
});

afterAll(async () => {
  await daemon?.stop();
});

/** A new file added to the store directly (not through the daemon). */
function addFile(name: string): string {
  const file = join(daemon.dir, name);
  writeFileSync(file, `${name} ${Math.random()}\n`);
  return runOk(["nix-store", "--add", file], { env: daemon.localEnv() }).toString().trim();
}

/** What real Nix's collector would delete now. */
function dead(): string[] {
  return runOk(["nix-store", "--gc", "--print-dead"], { env: daemon.localEnv() }).toString().trim().split("\n");
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await Bun.sleep(10);
  if (!condition()) throw new Error(`gave up waiting: ${what}`);
}

describe("AddTempRoot", () => {
  test("the path is a root for as long as the connection lasts, in that connection's temproots file", async () => {
    const path = addFile("temp-rooted.txt");
    expect(dead()).toContain(path);
    const client = await WorkerClient.connect(daemon.socket);
    await client.setOptions();
    const reply = await client.op(11, (w) => w.latin1(path));
    expect(await reply.u64("result")).toBe(1);
    const files = readdirSync(join(daemon.stateDir, "temproots")).filter((f) => f.startsWith(`${daemon.process.pid}-`));
    expect(files.map((f) => readFileSync(join(daemon.stateDir, "temproots", f), "latin1")).join("")).toContain(`${path}\0`);
    expect(dead()).not.toContain(path);
    client.close();
    await until(() => dead().includes(path), "the temporary root to go with its connection");
  });
});

describe("AddIndirectRoot", () => {
  test("the client's link is recorded in gcroots/auto and keeps its target alive", async () => {
    const path = addFile("indirect.txt");
    const link = join(daemon.dir, "my-result");
    symlinkSync(path, link);
    const exchange = await request(daemon.socket, 12, (w) => w.text(link), (r) => r.u64("result"));
    expect(exchange.reply).toBe(1);
    const root = join(daemon.stateDir, "gcroots/auto", encodeBase32(hashBytes("sha1", link).digest));
    expect(readlinkSync(root)).toBe(link);
    expect(dead()).not.toContain(path);
    const roots = runOk(["nix-store", "--gc", "--print-roots"], { env: daemon.localEnv() }).toString();
    expect(roots).toContain(`${link} -> ${path}`);
  });

  test("a relative path is taken from the root directory, as nix-daemon's working directory is /", async () => {
    const exchange = await request(daemon.socket, 12, (w) => w.text("some/relative-link"), (r) => r.u64("result"));
    expect(exchange.reply).toBe(1);
    expect(readlinkSync(join(daemon.stateDir, "gcroots/auto", encodeBase32(hashBytes("sha1", "/some/relative-link").digest)))).toBe("/some/relative-link");
  });
});

describe("EnsurePath, SyncWithGC, RegisterDrvOutput", () => {
  test("EnsurePath of a valid path answers 1; of a missing one fails as nix-daemon does, and the connection goes on", async () => {
    const path = addFile("ensured.txt");
    const client = await WorkerClient.connect(daemon.socket);
    await client.setOptions();
    expect(await (await client.op(10, (w) => w.latin1(path))).u64("result")).toBe(1);
    const missing = join(daemon.storeDir, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-missing");
    await expect(client.op(10, (w) => w.latin1(missing))).rejects.toThrow(`path '\x1b[35;1m${missing}\x1b[0m' does not exist and cannot be created`);
    expect(await (await client.op(1, (w) => w.latin1(path))).bool("valid")).toBe(true);
    client.close();
  });

  test("EnsurePath of a missing path at 1.25 and 1.26: the messages of the vectors", async () => {
    const missing = join(daemon.storeDir, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-missing");
    for (const [version, vector] of [[0x119, "raw-error-format-1.25"], [0x11a, "raw-error-format-1.26"]] as const) {
      const ours = await request(daemon.socket, 10, (w) => w.latin1(missing), (r) => r.u64("result"), { version });
      const theirs = await vectorExchange(vector, "op 10", version & 0xff, (r) => r.u64("result"));
      expect(describeMessages(ours.messages)).toEqual(describeMessages(theirs.messages));
      expect(normalise(ours.error!.message)).toBe(normalise(theirs.error!.message));
      expect(ours.error!.exitStatus).toBe(theirs.error!.exitStatus);
    }
  });

  test("SyncWithGC answers 1, as in raw-misc-queries", async () => {
    const ours = await request(daemon.socket, 13, () => {}, (r) => r.u64("result"));
    const theirs = await vectorExchange("raw-misc-queries", "op 13", 34, (r) => r.u64("result"));
    expect(ours).toEqual(theirs);
  });

  test("RegisterDrvOutput is refused without ca-derivations (raw-register-drv-output-disabled); the connection goes on", async () => {
    const client = await WorkerClient.connect(daemon.socket);
    await client.setOptions();
    const realisation = JSON.stringify({ id: `sha256:${"7e5c".repeat(16)}!out`, outPath: "67niyg5f46z6w2nx8rfbvmw3xl7917iw-dependent", signatures: [], dependentRealisations: {} });
    const theirs = await vectorExchange("raw-register-drv-output-disabled", "op 42", 34, async () => undefined);
    await expect(client.op(42, (w) => w.text(realisation))).rejects.toThrow(theirs.error!.message);
    expect(await (await client.op(13)).u64("result")).toBe(1);
    client.close();
  });
});

test("nothing was left in the store by these requests", () => {
  expect(existsSync(join(daemon.storeDir, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-missing"))).toBe(false);
});
