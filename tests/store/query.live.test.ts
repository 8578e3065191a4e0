// Live differential tests of the store queries: for every path of a store
// written by real Nix (builds and --add) and by bunix, `bunix nix-store -q`
// and `bunix store query` print exactly what `nix-store -q` prints, for every
// query kind; `bunix store path-info --json` matches `nix path-info --json`.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { bunixBinary, nixEnv, requireNix } from "../helpers/nix.ts";
import { type QueryStore, buildQueryStore } from "./query-fixture.ts";

let bunix: string;
let fx: QueryStore;

beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
  fx = buildQueryStore(bunix);
}, 120_000);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(argv: string[], cwd?: string): Promise<Result> {
  const proc = Bun.spawn(argv, { env: nixEnv(), cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(stdout).toString("latin1"), stderr };
}

/** Runs `jobs` with at most `limit` at a time. */
async function pool<T>(jobs: ReadonlyArray<() => Promise<T>>, limit = 6): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    [...Array(Math.min(limit, jobs.length))].map(async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]!();
      }
    }),
  );
  return results;
}

const nixQuery = (flags: string[], args: string[], cwd?: string) => exec(["nix-store", "--store", fx.root, "-q", ...flags, ...args], cwd);
const aliasQuery = (flags: string[], args: string[], cwd?: string) => exec([bunix, "nix-store", "--store", fx.root, "-q", ...flags, ...args], cwd);

/** The flags of `bunix store query` for nix-store's. */
const NATIVE: Record<string, string> = { "-R": "--requisites", "-d": "--deriver" };
const nativeQuery = (flags: string[], args: string[], cwd?: string) =>
  exec([bunix, "store", "query", "--store", fx.root, ...flags.map((f) => NATIVE[f] ?? f), ...args], cwd);

interface Case {
  flags: string[];
  args: string[];
  cwd?: string;
  native?: boolean;
}

/** Compares stdout and exit status of Nix and bunix for each case; the first error line too when Nix fails. */
async function compareAll(cases: readonly Case[]): Promise<number> {
  const mismatches: string[] = [];
  await pool(
    cases.map((c) => async () => {
      const runs = [nixQuery(c.flags, c.args, c.cwd), aliasQuery(c.flags, c.args, c.cwd)];
      if (c.native !== false) runs.push(nativeQuery(c.flags, c.args, c.cwd));
      const [expected, ...ours] = await Promise.all(runs);
      for (const [i, got] of ours.entries()) {
        const what = `${i === 0 ? "bunix nix-store -q" : "bunix store query"} ${c.flags.join(" ")} ${c.args.join(" ")}`;
        if (got!.stdout !== expected!.stdout || got!.code !== expected!.code) {
          mismatches.push(`${what}\n  nix (${expected!.code}): ${JSON.stringify(expected!.stdout)} ${expected!.stderr}\n  bunix (${got!.code}): ${JSON.stringify(got!.stdout)} ${got!.stderr}`);
        } else if (expected!.code !== 0) {
          const nixError = expected!.stderr.split("\n").find((l) => l.startsWith("error: "));
          if (nixError && !got!.stderr.includes(nixError)) mismatches.push(`${what}: nix says ${nixError}, bunix says ${got!.stderr}`);
        }
      }
    }),
  );
  expect(mismatches).toEqual([]);
  return cases.length;
}

const PER_PATH_KINDS = [["--references"], ["--referrers"], ["-R"], ["-R", "--include-outputs"], ["--referrers-closure"], ["--tree"], ["--graph"], ["--graphml"]];

test("the store holds every kind of path", () => {
  const names = fx.paths.map((p) => p.slice(44));
  for (const name of ["chain-1", "top", "self", "multi", "multi-dev", "multi-lib", "fo-flat", "fo-rec", "drv-ref", "src.txt", "ref.txt", "tree", "file.txt", "note.txt", "note2.txt", "bunix-tree", "plain"]) {
    expect(names).toContain(name);
  }
  expect(fx.drvs.length).toBeGreaterThan(10);
  expect(fx.bunixAdded.length).toBe(4);
});

describe("every path, every set query, one path at a time", () => {
  for (const flags of PER_PATH_KINDS) {
    test(flags.join(" "), async () => {
      // `bunix store query` shares the alias's code; a quarter of the paths check its flags.
      expect(await compareAll(fx.paths.map((p, i) => ({ flags, args: [p], native: i % 4 === 0 })))).toBe(fx.paths.length);
    });
  }
});

test("per-argument queries over all paths at once", async () => {
  const kinds = [[], ["--outputs"], ["-d"], ["--hash"], ["--size"], ["--tree"], ["--graph"], ["--graphml"], ["-R"], ["--referrers-closure"], ["--references"], ["--referrers"]];
  await compareAll(kinds.map((flags) => ({ flags, args: fx.paths })));
  // Order of arguments matters for --tree (shared "[...]" marks) and per-argument output.
  await compareAll(kinds.map((flags) => ({ flags, args: [...fx.paths].reverse() })));
});

test("--use-output, --binding, --resolve and --force-realise (nothing to build)", async () => {
  const cases: Case[] = [];
  for (const flags of [["-u", "-R"], ["-u", "--hash"], ["-u", "--size"], ["-u", "--graph"], ["-u", "--references"], ["-u", "--referrers-closure"]]) {
    cases.push({ flags, args: fx.drvs, native: false });
  }
  for (const path of fx.paths) cases.push({ flags: ["-b", "name"], args: [path], native: false });
  cases.push({ flags: ["--binding", "builder"], args: fx.paths.filter((p) => p.endsWith("-top") || p.endsWith("-top.drv")), native: false });
  cases.push({ flags: ["-b", "no-such-variable"], args: [fx.drvs[0]!], native: false });
  cases.push({ flags: ["--resolve"], args: fx.paths, native: false });
  cases.push({ flags: ["-f"], args: fx.paths, native: false });
  cases.push({ flags: ["-f", "-R"], args: fx.drvs, native: false });
  cases.push({ flags: ["-f", "-u", "--hash"], args: fx.drvs, native: false });
  await compareAll(cases);
});

test("symlinks into the store (./result) and paths inside store objects", async () => {
  const useMulti = fx.paths.find((p) => p.endsWith("-use-multi"))!;
  const top = fx.paths.find((p) => p.endsWith("-top"))!;
  const cases: Case[] = [];
  for (const flags of [[], ["-R"], ["--tree"], ["-d"], ["--hash"], ["--references"]]) {
    cases.push({ flags, args: ["result"], cwd: fx.dir }, { flags, args: ["./again"], cwd: fx.dir }, { flags, args: [join(fx.dir, "result")] });
    cases.push({ flags, args: [`${top}/deps`, `${top}/../${top.slice(11)}`] });
  }
  await compareAll(cases);
});

test("invalid and foreign paths fail as in Nix", async () => {
  const invalid = "/nix/store/00000000000000000000000000000000-invalid";
  const cases: Case[] = [];
  for (const flags of [[], ["--outputs"], ["--references"], ["--referrers"], ["--referrers-closure"], ["-R"], ["-d"], ["--hash"], ["--size"], ["--tree"], ["--graph"], ["--graphml"]]) {
    cases.push({ flags, args: [invalid] }, { flags, args: [fx.paths[0]!, invalid] });
  }
  cases.push({ flags: ["--outputs"], args: [`${invalid}.drv`] }, { flags: ["-R"], args: ["/tmp"] }, { flags: ["-R"], args: [join(fx.dir, "no-such-file")] });
  await compareAll(cases);

  // Usage errors: both fail.
  for (const flags of [["-R", "--tree"], ["--bogus"], ["--hash", "--size"]]) {
    expect((await nixQuery(flags, [fx.paths[0]!])).code).not.toBe(0);
    expect((await aliasQuery(flags, [fx.paths[0]!])).code).not.toBe(0);
  }
});

test("bunix store query --json lists what nix-store -q prints", async () => {
  const sample = fx.paths.filter((_, i) => i % 3 === 0);
  for (const flags of [["-R"], ["--referrers-closure"], ["--outputs"], ["--references"]]) {
    const expected = (await nixQuery(flags, sample)).stdout.split("\n").filter((l) => l !== "");
    const got = await nativeQuery([...flags, "--json"], sample);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toEqual(expected);
  }
  const hashes = JSON.parse((await nativeQuery(["--hash", "--json"], sample)).stdout) as Record<string, string>;
  const expectedHashes = (await nixQuery(["--hash"], sample)).stdout.split("\n").filter((l) => l !== "");
  expect(sample.map((p) => hashes[p])).toEqual(expectedHashes);
});

// Not .drv arguments: `nix path-info` (an installable) takes a .drv to mean its outputs.
test("--valid-derivers (a bunix addition): the valid .drvs whose outputs include the path", async () => {
  const outputsOf = await pool(fx.drvs.map((drv) => async () => (await nixQuery(["--outputs"], [drv])).stdout.split("\n").filter((l) => l !== "")));
  const derivers = new Map<string, string[]>();
  for (const [i, drv] of fx.drvs.entries()) for (const out of outputsOf[i]!) derivers.set(out, [...(derivers.get(out) ?? []), drv]);
  const twice = [...derivers.values()].filter((d) => d.length > 1);
  expect(twice.length).toBeGreaterThan(0);
  const sample = fx.paths.filter((p, i) => derivers.get(p)?.length === 2 || i % 5 === 0);
  const results = await pool(sample.flatMap((p, i) => [() => (i % 2 === 0 ? nativeQuery : aliasQuery)(["--valid-derivers"], [p])]));
  for (const [i, path] of sample.entries()) {
    expect(results[i]!.stdout).toBe((derivers.get(path) ?? []).sort().map((d) => `${d}\n`).join(""));
  }
});

describe("path-info --json", () => {
  const nonDrvs = () => fx.paths.filter((p) => !p.endsWith(".drv"));
  for (const flags of [[], ["-r"], ["--closure-size"], ["-r", "--closure-size"]]) {
    test(flags.join(" ") || "plain", async () => {
      const [expected, got] = await Promise.all([
        exec(["nix", "path-info", "--store", fx.root, "--json", ...flags, ...nonDrvs()]),
        exec([bunix, "store", "path-info", "--store", fx.root, "--json", ...flags, ...nonDrvs()]),
      ]);
      expect(expected.code).toBe(0);
      expect(got.stderr).toBe("");
      expect(got.stdout).toBe(expected.stdout);
    });
  }
  test("through a result link", async () => {
    const [expected, got] = await Promise.all([
      exec(["nix", "path-info", "--store", fx.root, "--json", "-r", "./result"], fx.dir),
      exec([bunix, "store", "path-info", "--store", fx.root, "--json", "-r", "./result"], fx.dir),
    ]);
    expect(expected.code).toBe(0);
    expect(got.stdout).toBe(expected.stdout);
  });
});

test("path-from-hash-part", async () => {
  const sample = fx.paths.filter((_, i) => i % 4 === 0);
  const results = await pool(sample.map((p) => () => exec([bunix, "store", "path-from-hash-part", "--store", fx.root, p.slice(11, 43)])));
  expect(results.map((r) => r.stdout)).toEqual(sample.map((p) => `${p}\n`));
  const missing = await exec([bunix, "store", "path-from-hash-part", "--store", fx.root, "00000000000000000000000000000000"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain("00000000000000000000000000000000");
  expect((await exec([bunix, "store", "path-from-hash-part", "--store", fx.root, "not-a-hash"])).code).toBe(2);
});
