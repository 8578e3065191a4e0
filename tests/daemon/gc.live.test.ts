/**
 * The garbage collector through the daemon, side by side: bunix's daemon
 * and real nix-daemon 2.8 serve two stores filled alike by real Nix
 * clients, and every real client command (nix-store --gc and its
 * --print-roots, --print-live, --print-dead, --max-freed; nix-store
 * --delete) must print the same (store paths compared by name) and exit
 * the same. Raw requests compare the stderr messages and replies of
 * CollectGarbage with nix-daemon's and with the captured vectors.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkerClient } from "../../internal/daemon/client.ts";
import type { WireReader } from "../../internal/wire/reader.ts";
import type { WireWriter } from "../../internal/wire/writer.ts";
import { requireNix, run, runOk } from "../helpers/nix.ts";
import { describeMessages, normalise, request, vectorExchange } from "./build-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

interface Filled {
  daemon: TestDaemon;
  /** name -> store path */
  paths: Record<string, string>;
}

let pair: Filled[] = [];

/** A real client command against the daemon. */
function client(d: TestDaemon, argv: string[]) {
  return run(argv, { env: d.clientEnv(), cwd: d.dir });
}

function clientOk(d: TestDaemon, argv: string[]): string {
  return runOk(argv, { env: d.clientEnv(), cwd: d.dir }).toString().trim();
}

/** The same content in each store: dead paths (one referring to another), a direct root, an indirect root and what they refer to. */
function fill(daemon: TestDaemon): Filled {
  const files = join(daemon.dir, "files");
  mkdirSync(files, { recursive: true });
  const paths: Record<string, string> = {};
  for (const name of ["dead-a.txt", "dead-b.txt", "dead-c.txt", "rooted.txt", "indirect.txt", "needed.txt"]) {
    writeFileSync(join(files, name), `${name} has some content\n`.repeat(40));
    paths[name] = clientOk(daemon, ["nix-store", "--add", join(files, name)]);
  }
  const refer = (name: string, target: string) =>
    JSON.parse(clientOk(daemon, ["nix-instantiate", "--eval", "--read-write-mode", "-E", `builtins.toFile "${name}" "refers to \${builtins.storePath ${target}}"`])) as string;
  paths["refers-a.txt"] = refer("refers-a.txt", paths["dead-a.txt"]!);
  paths["rooted-refers.txt"] = refer("rooted-refers.txt", paths["needed.txt"]!);
  mkdirSync(join(daemon.stateDir, "gcroots"), { recursive: true });
  symlinkSync(paths["rooted.txt"]!, join(daemon.stateDir, "gcroots", "rooted"));
  symlinkSync(paths["rooted-refers.txt"]!, join(daemon.stateDir, "gcroots", "rooted-refers"));
  // An indirect root, as nix-build makes ./result: AddIndirectRoot through the daemon.
  clientOk(daemon, ["nix-store", "--add-root", join(daemon.dir, "result"), "-r", paths["indirect.txt"]!]);
  return { daemon, paths };
}

/** Store paths by name, the daemon's directory as DIR: comparable between the two stores. */
function comparable(d: TestDaemon, text: string): string {
  return normalise(text).replaceAll(d.dir, "DIR");
}

function lines(d: TestDaemon, text: string): string[] {
  return comparable(d, text)
    .split("\n")
    .filter((l) => l !== "");
}

/**
 * What each daemon's client printed for `argv`: exit code, stdout and
 * stderr lines (comparable). Both stores hold the same names under other
 * hashes, so lists ordered by path are compared sorted by name.
 */
function both(argv: string[], sortStderr = false) {
  return pair.map(({ daemon }) => {
    const result = client(daemon, argv);
    const stderr = lines(daemon, result.stderr);
    return { code: result.code, stdout: lines(daemon, result.stdout.toString()).sort(), stderr: sortStderr ? stderr.sort() : stderr };
  });
}

function storeNames(d: TestDaemon): string[] {
  return readdirSync(d.storeDir)
    .filter((n) => !n.startsWith("."))
    .map((n) => n.slice(33))
    .sort();
}

beforeAll(async () => {
  requireNix();
  const daemons = await Promise.all([startDaemon("bunix"), startDaemon("nix")]);
  pair = daemons.map(fill);
});

afterAll(async () => {
  await Promise.all(pair.map(({ daemon }) => daemon.stop()));
});

describe("reporting (nothing deleted)", () => {
  test("nix-store --gc --print-roots: the same roots, direct and indirect", () => {
    const [ours, theirs] = both(["nix-store", "--gc", "--print-roots"]);
    expect(ours).toEqual(theirs!);
    expect(ours!.stdout).toEqual([
      "DIR/result -> STORE/indirect.txt",
      "DIR/state/gcroots/rooted -> STORE/rooted.txt",
      "DIR/state/gcroots/rooted-refers -> STORE/rooted-refers.txt",
    ]);
  });

  test("nix-store --gc --print-live and --print-dead: the same paths and messages", () => {
    const [live, liveNix] = both(["nix-store", "--gc", "--print-live"]);
    expect(live).toEqual(liveNix!);
    expect(live!.stdout).toEqual(["STORE/indirect.txt", "STORE/needed.txt", "STORE/rooted-refers.txt", "STORE/rooted.txt"]);
    const [dead, deadNix] = both(["nix-store", "--gc", "--print-dead"]);
    expect(dead).toEqual(deadNix!);
    expect(dead!.stderr).toEqual(["finding garbage collector roots...", "determining live/dead paths..."]);
    expect(dead!.stdout).toEqual(["STORE/dead-a.txt", "STORE/dead-b.txt", "STORE/dead-c.txt", "STORE/refers-a.txt"]);
  });

  test("CollectGarbage ReturnDead: messages and reply as nix-daemon's, messages as in nix-store-gc-print-dead", async () => {
    const write = (w: WireWriter) => w.u64(1).u64(0).u64(0).u64(2n ** 64n - 1n).u64(0).u64(0).u64(0);
    const read = async (r: WireReader) => ({ paths: await r.latin1List("paths"), bytes: await r.u64("bytes"), obsolete: await r.u64("obsolete") });
    const exchanges = await Promise.all(pair.map(({ daemon }) => request(daemon.socket, 20, write, read)));
    const replies = exchanges.map((e) => e.reply as Awaited<ReturnType<typeof read>>);
    // Sorted as Nix's set of paths (bytewise), which orders the two stores differently.
    for (const reply of replies) expect(reply.paths).toEqual([...reply.paths].sort());
    const shown = exchanges.map((e, i) => normalise(JSON.stringify({ ...e, reply: { ...replies[i]!, paths: replies[i]!.paths.map(normalise).sort() } })));
    expect(shown[0]).toBe(shown[1]!);
    const vector = await vectorExchange("nix-store-gc-print-dead", "op 20", 34, read);
    expect(describeMessages(exchanges[0]!.messages)).toEqual(describeMessages(vector.messages));
  });

  test("ignoreLiveness is refused as nix-daemon refuses it (raw-untrusted-gc-ignore-liveness), and the connection goes on", async () => {
    const write = (w: WireWriter) => w.u64(1).u64(0).u64(1).u64(0).u64(0).u64(0).u64(0);
    const read = async (r: WireReader) => r.latin1List("paths");
    const [ours, theirs] = await Promise.all(pair.map(({ daemon }) => request(daemon.socket, 20, write, read)));
    const vector = await vectorExchange("raw-untrusted-gc-ignore-liveness", "op 20", 34, read);
    expect(ours).toEqual(theirs!);
    expect(ours).toEqual(vector);
    expect(ours!.error!.message).toBe("you are not allowed to ignore liveness");
    const connection = await WorkerClient.connect(pair[0]!.daemon.socket);
    try {
      await connection.setOptions();
      await expect(connection.op(20, write)).rejects.toThrow("you are not allowed to ignore liveness");
      expect(await (await connection.op(1, (w) => w.latin1(pair[0]!.paths["rooted.txt"]!))).bool("valid")).toBe(true);
    } finally {
      connection.close();
    }
  });

  test("an unknown action is an error naming it; nothing is deleted", async () => {
    const d = pair[0]!.daemon;
    const before = storeNames(d);
    const ours = await request(d.socket, 20, (w) => w.u64(7).u64(0).u64(0).u64(2n ** 64n - 1n).u64(0).u64(0).u64(0), (r) => r.latin1List("paths"));
    expect(ours.error!.message).toContain("unknown garbage collector action 7");
    expect(storeNames(d)).toEqual(before);
  });
});

describe("deleting", () => {
  test("nix-store --delete refuses a live path and a path a dead path needs, exits 1, deletes nothing", () => {
    for (const name of ["rooted.txt", "needed.txt", "dead-a.txt"]) {
      const results = pair.map(({ daemon, paths }) => {
        const before = storeNames(daemon);
        const result = client(daemon, ["nix-store", "--delete", paths[name]!]);
        expect(storeNames(daemon)).toEqual(before);
        return { code: result.code, stdout: result.stdout.toString() };
      });
      expect(results[0]).toEqual(results[1]!);
      expect(results[0]!.code).toBe(1);
    }
    // bunix says what keeps it (nix-daemon only says that it is alive).
    const { daemon, paths } = pair[0]!;
    expect(client(daemon, ["nix-store", "--delete", paths["dead-a.txt"]!]).stderr).toContain(`'${paths["refers-a.txt"]}' refers to '${paths["dead-a.txt"]}'`);
    expect(client(daemon, ["nix-store", "--delete", paths["rooted.txt"]!]).stderr).toContain(`is a root (${join(daemon.stateDir, "gcroots", "rooted")})`);
  });

  test("nix-store --delete of dead paths: the same messages, summary and reply as nix-daemon", () => {
    const results = pair.map(({ daemon, paths }) => {
      const result = client(daemon, ["nix-store", "--delete", paths["refers-a.txt"]!, paths["dead-a.txt"]!]);
      return { code: result.code, stdout: lines(daemon, result.stdout.toString()), stderr: lines(daemon, result.stderr).sort(), gone: !existsSync(paths["dead-a.txt"]!) && !existsSync(paths["refers-a.txt"]!) };
    });
    expect(results[0]).toEqual(results[1]!);
    expect(results[0]!.code).toBe(0);
    expect(results[0]!.gone).toBe(true);
    expect(results[0]!.stderr).toEqual(
      ["deleting 'STORE/dead-a.txt'", "deleting 'STORE/refers-a.txt'", "deleting unused links...", "finding garbage collector roots...", "note: currently hard linking saves -0.00 MiB"].sort(),
    );
  });

  test("nix-store --gc --max-freed 0 deletes nothing but still cleans .links, as nix-daemon does", () => {
    const before = pair.map(({ daemon }) => storeNames(daemon));
    const [ours, theirs] = both(["nix-store", "--gc", "--max-freed", "0"]);
    expect(ours).toEqual(theirs!);
    expect(ours!.stderr).toEqual(["finding garbage collector roots...", "deleting unused links...", "note: currently hard linking saves -0.00 MiB"]);
    expect(pair.map(({ daemon }) => storeNames(daemon))).toEqual(before);
  });

  test("nix-store --gc --max-freed 1 deletes one path and stops, as nix-daemon does", () => {
    const results = both(["nix-store", "--gc", "--max-freed", "1"]).map((r) => ({ ...r, stderr: r.stderr.map((l) => l.replace(/^deleting 'STORE\/dead-[bc]\.txt'$/, "deleting 'STORE/dead-?.txt'")) }));
    expect(results[0]).toEqual(results[1]!);
    expect(results[0]!.stdout).toEqual(["1 store paths deleted, 0.00 MiB freed"]);
    expect(results[0]!.stderr).toEqual([
      "finding garbage collector roots...",
      "deleting garbage...",
      "deleting 'STORE/dead-?.txt'",
      "deleted more than 1 bytes; stopping",
      "deleting unused links...",
      "note: currently hard linking saves -0.00 MiB",
    ]);
  });

  test("nix-store --gc deletes the rest of the garbage and keeps every root's closure, as nix-daemon does", () => {
    // --max-freed took dead-b or dead-c: this collection takes the other one.
    const results = both(["nix-store", "--gc"], true).map((r) => ({ ...r, stderr: r.stderr.map((l) => l.replace(/^deleting 'STORE\/dead-[bc]\.txt'$/, "deleting 'STORE/dead-?.txt'")) }));
    expect(results[0]).toEqual(results[1]!);
    expect(results[0]!.stdout).toEqual(["1 store paths deleted, 0.00 MiB freed"]);
    const [ours, theirs] = pair.map(({ daemon }) => storeNames(daemon));
    expect(ours).toEqual(theirs!);
    expect(ours).toEqual(["indirect.txt", "needed.txt", "rooted-refers.txt", "rooted.txt"]);
    // What is left is intact: real Nix, opening the store directly, finds nothing wrong.
    const { daemon } = pair[0]!;
    const verify = run(["nix-store", "--verify", "--check-contents"], { env: daemon.localEnv() });
    expect({ code: verify.code, stderr: verify.stderr }).toEqual({ code: 0, stderr: "reading the Nix store...\nchecking path existence...\nchecking link hashes...\nchecking store hashes...\n" });
  });
});
