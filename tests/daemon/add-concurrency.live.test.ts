/**
 * Many clients adding at once through bunix's daemon: registrations of
 * different connections share transactions through the write queue (the
 * daemon logs each batch with BUNIX_DEBUG_WRITE_QUEUE=1), connections adding
 * the same path wait for each other without blocking the daemon, and every
 * path is valid and verifiable afterwards.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { WorkerClient } from "../../internal/daemon/client.ts";
import { requireNix, run } from "../helpers/nix.ts";
import { addToStoreNar, contentAddressed, fileNar, inputAddressed, isValid, stagingLeftovers } from "./nar-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

const CLIENTS = 40;
let daemon: TestDaemon;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon("bunix", { env: { BUNIX_DEBUG_WRITE_QUEUE: "1" } });
});

afterAll(async () => {
  await daemon?.stop();
});

/** The sizes of the batches the daemon committed so far. */
function batches(): number[] {
  return [...daemon.log().matchAll(/write queue: committed (\d+) job\(s\) in one transaction/g)].map((m) => Number(m[1]));
}

async function connectAll(count: number): Promise<WorkerClient[]> {
  const clients = await Promise.all([...Array(count)].map(() => WorkerClient.connect(daemon.socket)));
  await Promise.all(clients.map((c) => c.setOptions()));
  return clients;
}

test(`${CLIENTS} concurrent adds commit in fewer transactions than adds, and all are valid`, async () => {
  const clients = await connectAll(CLIENTS);
  const before = batches().length;
  const items = clients.map((_, i) => (i % 2 === 0 ? contentAddressed(daemon.storeDir, `ca-${i}`, `item ${i}\n`) : (() => {
    const nar = fileNar(`input-addressed item ${i}\n`);
    return { info: inputAddressed(daemon.storeDir, `ia-${i}`, nar), nar };
  })()));
  await Promise.all(clients.map((client, i) => addToStoreNar(client, items[i]!.info, items[i]!.nar, { dontCheckSigs: true })));
  const sizes = batches().slice(before);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(CLIENTS);
  expect(sizes.length).toBeLessThan(CLIENTS);
  for (const [i, client] of clients.entries()) expect(await isValid(client, items[i]!.info.path)).toBe(true);
  for (const client of clients) client.close();
  const verify = run(["nix-store", "--verify", "--check-contents"], { env: daemon.localEnv() });
  expect(verify.code).toBe(0);
  expect(verify.stderr).not.toMatch(/error|warning|modified/i);
});

test("connections adding the same path at once: one registration, every client succeeds", async () => {
  const clients = await connectAll(12);
  const nar = fileNar(Buffer.alloc(4 << 20, 3));
  const info = inputAddressed(daemon.storeDir, "same-for-all", nar);
  const before = batches().reduce((a, b) => a + b, 0);
  await Promise.all(clients.map((client) => addToStoreNar(client, info, nar, { dontCheckSigs: true })));
  expect(batches().reduce((a, b) => a + b, 0) - before).toBe(1);
  expect(await isValid(clients[0]!, info.path)).toBe(true);
  expect(stagingLeftovers(daemon.storeDir)).toEqual([]);
  for (const client of clients) client.close();
});
