/**
 * nix-store --verify through the daemon, side by side: bunix's daemon and
 * real nix-daemon 2.8 serve two stores filled alike; a clean store, a
 * modified path and a vanished path must be reported with the same lines
 * and exit codes by the real client, and VerifyStore's raw messages must
 * match nix-daemon's and the nix-store-verify vector.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WireReader } from "../../internal/wire/reader.ts";
import type { WireWriter } from "../../internal/wire/writer.ts";
import { requireNix, run, runOk } from "../helpers/nix.ts";
import { describeMessages, normalise, request, vectorExchange } from "./build-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

interface Filled {
  daemon: TestDaemon;
  paths: Record<string, string>;
}

let pair: Filled[] = [];

function fill(daemon: TestDaemon): Filled {
  const files = join(daemon.dir, "files");
  mkdirSync(files, { recursive: true });
  const paths: Record<string, string> = {};
  for (const name of ["intact.txt", "modified.txt", "vanishing.txt"]) {
    writeFileSync(join(files, name), `${name}\n`);
    paths[name] = runOk(["nix-store", "--add", join(files, name)], { env: daemon.clientEnv() }).toString().trim();
  }
  return { daemon, paths };
}

/** The real client's verify on both daemons: exit code and stderr lines, store paths by name. */
function verifyBoth(flags: string[]) {
  return pair.map(({ daemon }) => {
    const result = run(["nix-store", "--verify", ...flags], { env: daemon.clientEnv() });
    return { code: result.code, stderr: normalise(result.stderr).split("\n").filter((l) => l !== "") };
  });
}

const readErrors = async (r: WireReader) => r.bool("errors found");

beforeAll(async () => {
  requireNix();
  const daemons = await Promise.all([startDaemon("bunix"), startDaemon("nix")]);
  pair = daemons.map(fill);
});

afterAll(async () => {
  await Promise.all(pair.map(({ daemon }) => daemon.stop()));
});

test("a clean store: the same lines, exit 0; raw messages as nix-daemon's and the nix-store-verify vector", async () => {
  for (const flags of [[], ["--check-contents"]]) {
    const [ours, theirs] = verifyBoth(flags);
    expect(ours).toEqual(theirs!);
    expect(ours!.code).toBe(0);
  }
  for (const checkContents of [0, 1]) {
    const write = (w: WireWriter) => w.u64(checkContents).u64(0);
    const [ours, theirs] = await Promise.all(pair.map(({ daemon }) => request(daemon.socket, 35, write, readErrors)));
    expect(describeMessages(ours!.messages)).toEqual(describeMessages(theirs!.messages));
    expect(ours!.reply).toBe(false);
    expect(theirs!.reply).toBe(false);
  }
  const ours = await request(pair[0]!.daemon.socket, 35, (w) => w.u64(0).u64(0), readErrors);
  expect(ours).toEqual(await vectorExchange("nix-store-verify", "op 35", 34, readErrors));
});

test("a modified path: reported with both hashes, errors found, the client exits 1 — as with nix-daemon", async () => {
  for (const { paths } of pair) {
    const path = paths["modified.txt"]!;
    chmodSync(path, 0o644);
    writeFileSync(path, "not what was added\n");
    chmodSync(path, 0o444);
  }
  const [ours, theirs] = verifyBoth(["--check-contents"]);
  expect(ours).toEqual(theirs!);
  expect(ours!.code).toBe(1);
  expect(ours!.stderr).toContain("warning: not all store errors were fixed");
  expect(ours!.stderr.some((l) => /^path 'STORE\/modified\.txt' was modified! expected hash 'sha256:[0-9a-z]{52}', got 'sha256:[0-9a-z]{52}'$/.test(l))).toBe(true);
  // Without --check-contents nothing is hashed: nothing found.
  const [quick, quickNix] = verifyBoth([]);
  expect(quick).toEqual(quickNix!);
  expect(quick!.code).toBe(0);
  // The raw exchange: the same messages, errorsFound = 1.
  const write = (w: WireWriter) => w.u64(1).u64(0);
  const [raw, rawNix] = await Promise.all(pair.map(({ daemon }) => request(daemon.socket, 35, write, readErrors)));
  expect(describeMessages(raw!.messages)).toEqual(describeMessages(rawNix!.messages));
  expect([raw!.reply, rawNix!.reply]).toEqual([true, true]);
});

test("repair of a modified path (trusted client): bunix cannot, says why, and the client exits 1 as with nix-daemon", () => {
  const [ours, theirs] = pair.map(({ daemon }) => run(["nix-store", "--verify", "--check-contents", "--repair"], { env: daemon.clientEnv() }));
  expect(ours!.code).toBe(theirs!.code);
  expect(ours!.code).toBe(1);
  expect(ours!.stderr).toContain(`cannot repair path '${pair[0]!.paths["modified.txt"]}'`);
});

test("a vanished path nothing refers to is dropped from the database, as nix-daemon drops it", () => {
  for (const { paths } of pair) rmSync(paths["vanishing.txt"]!, { force: true });
  const [ours, theirs] = verifyBoth([]);
  expect(ours).toEqual(theirs!);
  expect(ours!.stderr).toContain("path 'STORE/vanishing.txt' disappeared, removing from database...");
  for (const { daemon, paths } of pair) {
    expect(run(["nix-store", "--check-validity", paths["vanishing.txt"]!], { env: daemon.clientEnv() }).code).toBe(1);
  }
});
