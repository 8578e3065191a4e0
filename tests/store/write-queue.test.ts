/**
 * The write queue (internal/store/write-queue.ts) on a real store: adds made
 * at the same time by several store views (as daemon connections are)
 * commit in fewer transactions than adds, a failing registration is rolled
 * back alone, and every successful path is valid for real Nix afterwards.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import { loadSettings } from "../../internal/settings/settings.ts";
import { resolveStoreLocation } from "../../internal/settings/store-location.ts";
import { addText } from "../../internal/store/add.ts";
import { LocalStore } from "../../internal/store/local-store.ts";
import { TempRoots } from "../../internal/store/temp-roots.ts";
import { WriteQueue, writeThrough } from "../../internal/store/write-queue.ts";
import { StorePath } from "../../internal/store-path/store-path.ts";
import { nixEnv, requireNix, run } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

let root: string;
let store: LocalStore;
let batches: number[];

beforeEach(() => {
  root = join(scratchDir("write-queue"), "root");
  const settings = loadSettings({ env: {}, readFile: () => undefined, options: [["build-users-group", ""]] });
  store = LocalStore.open(resolveStoreLocation({ store: root, env: {} }), settings, { mode: "write" });
  batches = [];
  store.writeQueue = new WriteQueue(store.db, (jobs) => batches.push(jobs));
});

afterEach(() => {
  store.close();
});

function views(count: number): LocalStore[] {
  return [...Array(count)].map((_, i) => store.view(store.settings.clone(), new TempRoots(store.stateDir, `${process.pid}-q${i}`)));
}

const bytes = (text: string) => [new TextEncoder().encode(text)];

test("adds from many views at once share transactions, and all are valid", async () => {
  const connections = views(30);
  const results = await Promise.all(connections.map((view, i) => addText(view, `item-${i}`, bytes(`item ${i}\n`), { references: [] })));
  expect(results.every((r) => r.added)).toBe(true);
  expect(store.writeQueue!.stats.jobs).toBe(30);
  expect(store.writeQueue!.stats.transactions).toBeLessThan(30);
  expect(batches.reduce((a, b) => a + b, 0)).toBe(30);
  for (const { path } of results) expect(store.isValid(path)).toBe(true);
  for (const view of connections) view.close();
  requireNix();
  const verify = run(["nix-store", "--store", root, "--verify", "--check-contents"], { env: nixEnv() });
  expect(verify.code).toBe(0);
  expect(verify.stderr).not.toMatch(/error|warning|modified/i);
});

test("a failing registration is rolled back alone; the rest of its batch commits", async () => {
  const [a, b, c] = views(3);
  const missing = new StorePath("00000000000000000000000000000000", "missing");
  const outcomes = await Promise.allSettled([
    addText(a!, "good-1", bytes("good 1\n"), { references: [] }),
    addText(b!, "bad", bytes(`refers to ${store.print(missing)}\n`), { references: [missing] }),
    addText(c!, "good-2", bytes("good 2\n"), { references: [] }),
  ]);
  expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  expect(String((outcomes[1] as PromiseRejectedResult).reason)).toContain("which is not valid");
  expect(Math.max(...batches)).toBe(3);
  expect(store.queryAllValidPaths().map((p) => p.name).sort()).toEqual(["good-1", "good-2"]);
  for (const view of [a, b, c]) view!.close();
});

test("each caller gets its own job's result or error", async () => {
  const [first, second] = await Promise.all([writeThrough(store, () => 1), writeThrough(store, () => "two")]);
  expect([first, second]).toEqual([1, "two"]);
  const failing = writeThrough(store, () => {
    throw new Error("job failed");
  });
  await expect(failing).rejects.toThrow("job failed");
  expect(store.writeQueue!.stats.transactions).toBe(2);
});

test("without a queue, registration happens at once (the command-line path)", async () => {
  store.writeQueue = undefined;
  const result = await addText(store, "direct", bytes("direct\n"), { references: [] });
  expect(store.isValid(result.path)).toBe(true);
  expect(batches).toEqual([]);
});
