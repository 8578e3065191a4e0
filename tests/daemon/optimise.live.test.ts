/**
 * nix-store --optimise through the daemon, side by side with real
 * nix-daemon 2.8 on a store filled alike with duplicate files: the same
 * activities, progress and "linking" results (the nix-store-optimise
 * vector's shape), the same summary line; afterwards the duplicates are
 * hard links to one `.links` entry and real Nix finds the store intact.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { lstatSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StderrMessage } from "../../internal/daemon/client.ts";
import { requireNix, run, runOk } from "../helpers/nix.ts";
import { describeMessages, normalise, request, vectorExchange } from "./build-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

interface Filled {
  daemon: TestDaemon;
  paths: Record<string, string>;
}

let pair: Filled[] = [];
const SHARED = "the same contents in several files\n".repeat(200);

function fill(daemon: TestDaemon): Filled {
  const files = join(daemon.dir, "files");
  const paths: Record<string, string> = {};
  for (const dir of ["tree-a", "tree-b"]) {
    mkdirSync(join(files, dir, "sub"), { recursive: true });
    writeFileSync(join(files, dir, "shared"), SHARED);
    writeFileSync(join(files, dir, "sub", "shared-too"), SHARED);
    writeFileSync(join(files, dir, "own"), `only in ${dir}\n`);
  }
  writeFileSync(join(files, "top-1.txt"), SHARED);
  writeFileSync(join(files, "top-2.txt"), SHARED);
  for (const name of ["tree-a", "tree-b", "top-1.txt", "top-2.txt"]) {
    paths[name] = runOk(["nix-store", "--add", join(files, name)], { env: daemon.clientEnv() }).toString().trim();
  }
  return { daemon, paths };
}

beforeAll(async () => {
  requireNix();
  const daemons = await Promise.all([startDaemon("bunix"), startDaemon("nix")]);
  pair = daemons.map(fill);
});

afterAll(async () => {
  await Promise.all(pair.map(({ daemon }) => daemon.stop()));
});

/**
 * The messages, comparable between two stores that order their paths
 * differently: the "optimising path" texts masked (and listed apart), and
 * the "file linked" results (which path's file went into the pool first
 * depends on the order) counted apart.
 */
function shape(messages: readonly StderrMessage[]): { sequence: string[]; optimised: string[]; linked: string[] } {
  const lines = describeMessages(messages);
  const isLinked = (l: string) => l.includes('"kind":"result"') && l.includes('"type":100,');
  const optimised = lines.map((l) => /optimising path '([^']*)'/.exec(l)?.[1]).filter((p): p is string => p !== undefined);
  return {
    sequence: lines.filter((l) => !isLinked(l)).map((l) => l.replace(/optimising path '[^']*'/, "optimising path 'P'")),
    optimised: optimised.sort(),
    linked: lines.filter(isLinked).map((l) => l.replace(/"id":\d+,/, "")),
  };
}

test("OptimiseStore: the activities, progress and results nix-daemon sends, the same summary", async () => {
  const [ours, theirs] = await Promise.all(pair.map(({ daemon }) => request(daemon.socket, 34, () => {}, (r) => r.u64("result"))));
  expect(ours!.reply).toBe(1);
  expect(shape(ours!.messages)).toEqual(shape(theirs!.messages));
  const { sequence, linked } = shape(ours!.messages);
  // 6 files of the same contents: one goes to .links, five are replaced by links to it.
  expect(linked.length).toBe(5);
  expect(sequence.at(-1)).toBe(normalise(JSON.stringify({ kind: "next", text: "0.03 MiB freed by hard-linking 5 files\n" })));
  // The vector's first messages: the optimiseStore activity (level 0, no text), then progress 0 of all valid paths.
  const vector = await vectorExchange("nix-store-optimise", "op 34", 34, (r) => r.u64("result"));
  expect(describeMessages(ours!.messages)[0]).toBe(describeMessages(vector.messages)[0]!);
  expect(ours!.messages[1]).toMatchObject({ kind: "result", type: 105, fields: [0n, 4n, 0n, 0n] });
});

test("the duplicates are hard links to one .links entry; real Nix verifies the store; a second run links nothing, as nix-daemon", () => {
  const { daemon, paths } = pair[0]!;
  const files = [join(paths["tree-a"]!, "shared"), join(paths["tree-a"]!, "sub", "shared-too"), join(paths["tree-b"]!, "shared"), join(paths["tree-b"]!, "sub", "shared-too"), paths["top-1.txt"]!, paths["top-2.txt"]!];
  const inodes = new Set(files.map((f) => lstatSync(f).ino));
  expect(inodes.size).toBe(1);
  expect(lstatSync(files[0]!).nlink).toBe(7);
  // Directories are given back their canonical mode and time.
  const dir = lstatSync(join(paths["tree-a"]!, "sub"));
  expect({ mode: dir.mode & 0o7777, mtime: dir.mtimeMs }).toEqual({ mode: 0o555, mtime: 1000 });
  const verify = run(["nix-store", "--verify", "--check-contents"], { env: daemon.localEnv() });
  expect({ code: verify.code, stderr: verify.stderr }).toEqual({ code: 0, stderr: "reading the Nix store...\nchecking path existence...\nchecking link hashes...\nchecking store hashes...\n" });
  const [ours, theirs] = pair.map(({ daemon: d }) => {
    const result = run(["nix-store", "--optimise"], { env: d.clientEnv() });
    return { code: result.code, stderr: result.stderr };
  });
  expect(ours).toEqual(theirs!);
  expect(ours).toEqual({ code: 0, stderr: "0.00 MiB freed by hard-linking 0 files\n" });
});
