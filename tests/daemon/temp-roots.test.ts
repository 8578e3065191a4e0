/**
 * Collections inside one process that serves many clients (the daemon),
 * driven through the library with real locks, sockets and files:
 *
 * - a temporary root added while this process collects goes straight to
 *   the collector (before, it waited on our own gc.lock and socket: the
 *   process hung), and counts like a root announced on the socket;
 * - this process's collections take turns, and waiting for gc.lock held by
 *   another process does not stop the event loop;
 * - verify, which holds gc.lock shared, waits for a collection of this
 *   process without blocking it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GcSession, WAITING_FOR_GC_LOCK } from "../../internal/gc/session.ts";
import { readTempRoots } from "../../internal/gc/temp-roots.ts";
import { Settings } from "../../internal/settings/settings.ts";
import { resolveStoreLocation } from "../../internal/settings/store-location.ts";
import { addText } from "../../internal/store/add.ts";
import { LocalStore } from "../../internal/store/local-store.ts";
import { TempRoots } from "../../internal/store/temp-roots.ts";
import { yieldToEventLoop } from "../../internal/store/time-slices.ts";
import { verifyStoreInSlices } from "../../internal/store/verify.ts";
import type { StorePath } from "../../internal/store-path/store-path.ts";
import { scratchDir } from "../helpers/tmp.ts";

let store: LocalStore;
let path: StorePath;

beforeAll(async () => {
  const settings = new Settings();
  settings.set("build-users-group", "");
  store = LocalStore.open(resolveStoreLocation({ store: join(scratchDir("gc-in-process"), "root"), env: {} }), settings, { mode: "write" });
  path = (await addText(store, "claimed", [new TextEncoder().encode("claimed")], { references: [] })).path;
  // Our own roots (addText took one) are not what these tests are about.
  store.tempRoots.close();
});

afterAll(() => store?.close());

/** Turns of the event loop until `done()` or a generous bound; whether it happened is the caller's to check. */
async function turns(done: () => boolean, max = 2000): Promise<void> {
  for (let i = 0; i < max && !done(); i++) await Bun.sleep(1);
}

test("a root added while this process collects reaches the collector at once, and a file for later collectors", async () => {
  const session = await GcSession.start(store.stateDir, store.storeDir, () => {});
  const roots = new TempRoots(store.stateDir, `${process.pid}-7`);
  try {
    expect(session.isTempRoot(path.hashPart)).toBe(false);
    roots.add(store.print(path));
    expect(session.isTempRoot(path.hashPart)).toBe(true);
    expect(session.tempRootOwner(path.hashPart)).toBe("{socket}");
    expect(readFileSync(join(store.stateDir, "temproots", `${process.pid}-7`), "latin1")).toBe(`${store.print(path)}\0`);
  } finally {
    session.close();
  }
  try {
    // The next collector reads the file; its pid is the name's leading digits (as Nix's std::stoi).
    expect(readTempRoots(store.stateDir)).toEqual([{ path: store.print(path), pid: process.pid }]);
    // With no collection running, roots are written under gc.lock shared again.
    const later = new TempRoots(store.stateDir, `${process.pid}-8`);
    later.add(store.print(path));
    later.close();
  } finally {
    roots.close();
  }
  expect(readTempRoots(store.stateDir)).toEqual([]);
});

test("collections of one process take turns; the event loop runs while one waits", async () => {
  const first = await GcSession.start(store.stateDir, store.storeDir, () => {});
  let second: GcSession | undefined;
  const waiting = GcSession.start(store.stateDir, store.storeDir, () => {}).then((s) => (second = s));
  for (let i = 0; i < 20; i++) await yieldToEventLoop();
  expect(second).toBeUndefined();
  first.close();
  await waiting;
  expect(second).toBeDefined();
  second!.close();
});

test("gc.lock held by another process is waited for without blocking, with Nix's message", async () => {
  const lockFile = join(store.stateDir, "gc.lock");
  const holder = Bun.spawn(["flock", "--exclusive", lockFile, "sh", "-c", "echo locked; read line"], { stdin: "pipe", stdout: "pipe" });
  const reader = holder.stdout.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toBe("locked\n");
  const messages: string[] = [];
  let session: GcSession | undefined;
  const starting = GcSession.start(store.stateDir, store.storeDir, (m) => messages.push(m)).then((s) => (session = s));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  await turns(() => ticks >= 20);
  clearInterval(timer);
  expect({ ticks: ticks >= 20, started: session !== undefined, messages }).toEqual({ ticks: true, started: false, messages: [WAITING_FOR_GC_LOCK] });
  holder.stdin.end();
  await holder.exited;
  await starting;
  expect(session).toBeDefined();
  session!.close();
});

test("verify waits for a collection of this process without blocking it, then runs", async () => {
  const session = await GcSession.start(store.stateDir, store.storeDir, () => {});
  const events: string[] = [];
  let finished = false;
  const verifying = verifyStoreInSlices(store, {
    onEvent: (e) => {
      if (e.type === "phase") events.push(e.phase);
      if (e.type === "waiting") events.push(e.message);
    },
  }).then((report) => {
    finished = true;
    return report;
  });
  for (let i = 0; i < 20; i++) await yieldToEventLoop();
  expect({ finished, events }).toEqual({ finished: false, events: ["reading", WAITING_FOR_GC_LOCK] });
  session.close();
  const report = await verifying;
  expect(report.problems).toEqual([]);
  expect(events).toEqual(["reading", WAITING_FOR_GC_LOCK, "existence", "metadata"]);
});
