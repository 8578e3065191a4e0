// Build limits (settings.md: timeout, max-silent-time, max-build-log-size):
// the build is killed with a clear message and Nix's exit status, and nothing
// it started survives: each builder starts background children whose command
// line carries a unique marker, seen on the host while the build runs and
// gone afterwards. The sandbox root and the build directory are removed.
// Without the sandbox too (as root: the builder's process group; as a build
// user: every process of that user, even one that left the group).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bunixBinary, requireNix } from "../helpers/nix.ts";
import { SANDBOX_NIX, type BuildResult, type TestStore, bunixBuild, chrootStore, directStore, discard, eventually, instantiate, leftovers, processesWith } from "./support.ts";

let counter = 0;
function newMarker(): string {
  return `bunix-limit-marker-${process.pid}-${Date.now()}-${counter++}`;
}

interface Observed {
  result: BuildResult;
  /** Marked processes were seen on the host while the build ran. */
  seenDuring: boolean;
  /** Marked processes on the host once bunix has exited. */
  after: number[];
}

async function buildWatching(store: TestStore, marker: string, args: string[]): Promise<Observed> {
  let running = true;
  let seenDuring = false;
  const build = bunixBuild(store, args).finally(() => {
    running = false;
  });
  while (running && !seenDuring) {
    seenDuring = processesWith(marker).length >= 2;
    await Bun.sleep(25);
  }
  const result = await build;
  // SIGKILL is delivered by then; give the kernel a moment to tear the processes down.
  await eventually(() => processesWith(marker).length === 0);
  return { result, seenDuring, after: processesWith(marker) };
}

function expectCleanedUp(store: TestStore, observed: Observed): void {
  expect(observed.seenDuring).toBe(true);
  expect(observed.after).toEqual([]);
  expect(leftovers(store.realStoreDir, /\.chroot/)).toEqual([]);
  expect(leftovers(store.tmp, /^nix-build-/)).toEqual([]);
}

beforeAll(() => {
  requireNix();
  bunixBinary();
});

describe("in the sandbox", () => {
  let store: TestStore;
  beforeAll(() => {
    store = chrootStore("sandbox-limits");
  });
  afterAll(() => discard(store));
  const drvFor = (attr: string, marker: string) => instantiate(store, SANDBOX_NIX, [attr], { marker })[0]!;

  test("a build running past --timeout is killed, though it keeps writing", async () => {
    const marker = newMarker();
    const drv = drvFor("overTime", marker);
    const observed = await buildWatching(store, marker, ["--timeout", "2", drv]);
    expect(observed.result.code).toBe(101);
    expect(observed.result.stderr).toContain(`error: building '${drv}' timed out after 2 seconds`);
    expect(observed.result.stderr).toContain("> tick");
    expectCleanedUp(store, observed);
  });

  test("a build silent past max-silent-time is killed", async () => {
    const marker = newMarker();
    const drv = drvFor("silent", marker);
    const observed = await buildWatching(store, marker, ["--option", "max-silent-time", "1", drv]);
    expect(observed.result.code).toBe(101);
    expect(observed.result.stderr).toContain(`'${drv}' timed out after 1 seconds of silence`);
    expectCleanedUp(store, observed);
  });

  test("a build writing more than max-build-log-size is killed", async () => {
    const marker = newMarker();
    const drv = drvFor("chatty", marker);
    const observed = await buildWatching(store, marker, ["--option", "max-build-log-size", "100000", drv]);
    // Nix counts this as neither a build failure nor a timeout: exit status 1.
    expect(observed.result.code).toBe(1);
    expect(observed.result.stderr).toContain(`error: building '${drv}' killed after writing more than 100000 bytes of log output`);
    expectCleanedUp(store, observed);
  });
});

describe("without the sandbox", () => {
  let store: TestStore;
  beforeAll(() => {
    store = directStore("sandbox-limits-host");
  });
  afterAll(() => discard(store));
  const drvFor = (attr: string, marker: string) => instantiate(store, SANDBOX_NIX, [attr], { marker })[0]!;

  test("as root, --option timeout kills the builder's whole process group", async () => {
    const marker = newMarker();
    const drv = drvFor("hostOverTime", marker);
    const observed = await buildWatching(store, marker, ["--option", "sandbox", "false", "--option", "build-users-group", "", "--option", "timeout", "2", drv]);
    expect(observed.result.code).toBe(101);
    expect(observed.result.stderr).toContain(`'${drv}' timed out after 2 seconds`);
    expectCleanedUp(store, observed);
  });

  test("as a build user, every process of the user is killed, even one that left the group", async () => {
    const marker = newMarker();
    const drv = drvFor("hostEscaping", marker);
    const observed = await buildWatching(store, marker, ["--option", "sandbox", "false", "--option", "build-users-group", "nixbld", "--max-silent-time", "1", drv]);
    expect(observed.result.code).toBe(101);
    expect(observed.result.stderr).toContain(`'${drv}' timed out after 1 seconds of silence`);
    expectCleanedUp(store, observed);
  });
});
