/**
 * Collections, verifies and optimises inside bunix's daemon run beside its
 * other clients, in the one process that serves them all:
 *
 * - a collection that waits for gc.lock (held by another process) waits
 *   without blocking the daemon: other connections are answered meanwhile,
 *   and the client hears Nix's "waiting for the big garbage collector lock...";
 * - two collections asked for at once both finish (they take turns);
 * - connections that claim paths and add new ones while collections run
 *   neither hang nor lose what they hold;
 * - while a large collection, verify or optimise runs, queries on other
 *   connections are answered before it ends (it gives the event loop back
 *   between slices of work).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkerClient } from "../../internal/daemon/client.ts";
import type { WireWriter } from "../../internal/wire/writer.ts";
import { requireNix, runOk } from "../helpers/nix.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

let daemon: TestDaemon;
const MANY = 3000;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon("bunix");
});

afterAll(async () => {
  await daemon?.stop();
});

const NO_LIMIT = 2n ** 64n - 1n;
const collect = (action: number) => (w: WireWriter) => w.u64(action).u64(0).u64(0).u64(NO_LIMIT).u64(0).u64(0).u64(0);

/** `count` new dead paths, added by real Nix directly in one command. */
function addMany(label: string, count: number): string[] {
  const dir = join(daemon.dir, label);
  mkdirSync(dir);
  const files = Array.from({ length: count }, (_, i) => {
    const file = join(dir, `${label}-${i}`);
    writeFileSync(file, `${label} ${i}\n`);
    return file;
  });
  return runOk(["nix-store", "--add", ...files], { env: daemon.localEnv() }).toString().trim().split("\n");
}

async function connect(): Promise<WorkerClient> {
  const client = await WorkerClient.connect(daemon.socket);
  await client.setOptions();
  return client;
}

/** CollectGarbage's reply: the paths (bytes freed and the obsolete field read too). */
async function collectedPaths(client: WorkerClient, action: number): Promise<string[]> {
  const reply = await client.op(20, collect(action));
  const paths = await reply.latin1List("paths");
  await reply.u64("bytes freed");
  await reply.u64("obsolete");
  return paths;
}

async function addTempRoot(client: WorkerClient, path: string): Promise<void> {
  await (await client.op(11, (w) => w.latin1(path))).u64("result");
}

async function isValid(client: WorkerClient, path: string): Promise<boolean> {
  return (await client.op(1, (w) => w.latin1(path))).bool("valid");
}

describe("waiting and taking turns", () => {
  test("a collection waiting for gc.lock held by another process does not stop the daemon", async () => {
    const [path] = addMany("waiting", 1);
    const holder = Bun.spawn(["flock", "--exclusive", join(daemon.stateDir, "gc.lock"), "sh", "-c", "echo locked; read line"], { stdin: "pipe", stdout: "pipe" });
    const reader = holder.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("locked\n");
    const collector = await connect();
    const other = await connect();
    try {
      let collected = false;
      const collecting = collector.op(20, collect(2)).then(async (r) => {
        collected = true;
        return { paths: await r.latin1List("paths"), bytes: await r.u64("bytes"), obsolete: await r.u64("obsolete") };
      });
      // Other clients are served while the collection cannot start.
      for (let i = 0; i < 20; i++) expect(await isValid(other, path!)).toBe(true);
      expect(collected).toBe(false);
      expect(collector.messages.map((m) => (m.kind === "next" ? m.text : m.kind))).toEqual(["waiting for the big garbage collector lock...\n"]);
      holder.stdin.end();
      await holder.exited;
      const reply = await collecting;
      expect(reply.paths).toContain(path!);
      expect(collector.messages.map((m) => (m.kind === "next" ? m.text : m.kind)).slice(0, 3)).toEqual([
        "waiting for the big garbage collector lock...\n",
        "finding garbage collector roots...\n",
        "deleting garbage...\n",
      ]);
      expect(await isValid(other, path!)).toBe(false);
    } finally {
      holder.kill();
      collector.close();
      other.close();
    }
  });

  test("collections asked for on several connections at once all finish, each path deleted once", async () => {
    const paths = addMany("at-once", 50);
    const clients = await Promise.all([connect(), connect(), connect()]);
    try {
      const replies = await Promise.all(clients.map((c) => collectedPaths(c, 2)));
      const deleted = replies.flat();
      expect(deleted.filter((p) => paths.includes(p)).sort()).toEqual([...paths].sort());
      expect(new Set(deleted).size).toBe(deleted.length);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

describe("claiming and adding during collections", () => {
  test("paths claimed (AddTempRoot, then found valid) during collections survive them; adds succeed; nothing hangs", async () => {
    const rounds = 3;
    let held: string[] = [];
    const failures: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const candidates = addMany(`claim-${round}`, 300);
      const gcClient = await connect();
      const claimers = await Promise.all(Array.from({ length: 6 }, connect));
      try {
        const gc = collectedPaths(gcClient, 2);
        let gcDone = false;
        void gc.then(() => (gcDone = true));
        // Each claimer claims paths as a client would: the root first, then the check.
        const claimed = claimers.map(async (c, k) => {
          const mine: string[] = [];
          for (let i = k; i < candidates.length && !gcDone; i += claimers.length) {
            await addTempRoot(c, candidates[i]!);
            if (await isValid(c, candidates[i]!)) mine.push(candidates[i]!);
          }
          return mine;
        });
        // New paths added by real clients through the daemon meanwhile.
        const adds = Array.from({ length: 3 }, (_, k) => {
          const file = join(daemon.dir, `added-${round}-${k}`);
          writeFileSync(file, `added ${round} ${k}\n`);
          return Bun.spawn(["nix-store", "--add", file], { env: daemon.clientEnv(), stdout: "pipe", stderr: "pipe" });
        });
        const deleted = new Set(await gc);
        held = (await Promise.all(claimed)).flat();
        for (const proc of adds) {
          if ((await proc.exited) !== 0) failures.push(await new Response(proc.stderr).text());
        }
        // What a connection still holds is valid and on disk, and was not reported deleted.
        for (const path of held) {
          if (deleted.has(path) || !existsSync(path) || !(await isValid(claimers[0]!, path))) failures.push(`lost ${path}`);
        }
        // Another collection while they still hold them: nothing held goes.
        const again = new Set(await collectedPaths(gcClient, 2));
        for (const path of held) if (again.has(path)) failures.push(`deleted while held: ${path}`);
      } finally {
        gcClient.close();
        for (const c of claimers) c.close();
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);
});

describe("other clients are served during long jobs", () => {
  /**
   * Runs `op` on one connection and IsValidPath in a loop on another; counts
   * the answers that came after the job's first message and before its end.
   */
  async function answeredDuring(op: number, write: (w: WireWriter) => void, probe: string): Promise<number> {
    const worker = await connect();
    const other = await connect();
    try {
      let finished = false;
      const job = worker.op(op, write).then(() => (finished = true));
      let during = 0;
      while (!finished) {
        const started = worker.messages.length > 0;
        await isValid(other, probe);
        if (started && !finished) during++;
      }
      await job;
      return during;
    } finally {
      worker.close();
      other.close();
    }
  }

  test(`verify --check-contents, optimise and a collection of ${MANY} paths`, async () => {
    const probe = addMany("probe", 1)[0]!;
    const other = await connect();
    await addTempRoot(other, probe); // kept through the collection below
    try {
      addMany("big", MANY);
      expect(await answeredDuring(35, (w) => w.u64(1).u64(0), probe)).toBeGreaterThan(0);
      expect(await answeredDuring(34, () => {}, probe)).toBeGreaterThan(0);
      expect(await answeredDuring(20, collect(2), probe)).toBeGreaterThan(0);
      expect(await isValid(other, probe)).toBe(true);
    } finally {
      other.close();
    }
  }, 60_000);
});
