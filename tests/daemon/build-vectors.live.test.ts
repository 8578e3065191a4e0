/**
 * Builds through bunix's daemon, request by request as in the captured
 * vectors (tests/fixtures/worker, real 2.8 client or test client against the
 * real 2.8 daemon): the same derivations (build-drvs.nix) give the same
 * stderr messages (activities, progress results, log lines, errors) and the
 * same replies, once store paths are compared by name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDerivation } from "../../internal/derivation/aterm-parse.ts";
import type { WireReader } from "../../internal/wire/reader.ts";
import { readBuildResult, writeBasicDerivation } from "../../internal/wire/worker-types.ts";
import { requireNix, runOk } from "../helpers/nix.ts";
import { type Exchange, describeMessages, describeResult, instantiate, normalise, request, vectorExchange } from "./build-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

const Op = { BuildPaths: 9, BuildDerivation: 36, QueryMissing: 40, BuildPathsWithResults: 46 };

let daemon: TestDaemon;
let drvs: Map<string, string>;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon();
  drvs = instantiate(daemon, ["trivial", "dependent", "failing", "bd", "v19", "v20"]);
});

afterAll(async () => {
  await daemon?.stop();
});

const drv = (attr: string) => drvs.get(attr)!;

async function readMissing(r: WireReader): Promise<string> {
  return normalise(JSON.stringify([await r.latin1List("willBuild"), await r.latin1List("willSubstitute"), await r.latin1List("unknown"), await r.u64("download"), await r.u64("nar")]));
}

async function readResults(r: WireReader): Promise<string[]> {
  const n = await r.u64("count");
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const { path, result } = await readBuildResult(r);
    lines.push(describeResult(path, result));
  }
  return lines;
}

/** The BuildDerivation reply at `minor` (worker-protocol.md 6.8). */
function readBuildDerivationReply(minor: number) {
  return async (r: WireReader) => {
    const fields: unknown[] = [await r.u64("status"), await r.text("errorMsg")];
    if (minor >= 29) fields.push(await r.u64("timesBuilt"), await r.bool("nd"), (await r.u64("start")) > 0, (await r.u64("stop")) > 0);
    if (minor >= 28) {
      const n = await r.u64("count");
      for (let i = 0; i < n; i++) fields.push(await r.latin1("id"), await r.text("realisation"));
    }
    return normalise(JSON.stringify(fields));
  };
}

function expectSame(ours: Exchange, vector: Exchange): void {
  expect(vector.messages.length).toBeGreaterThan(0);
  expect(describeMessages(ours.messages)).toEqual(describeMessages(vector.messages));
  expect(ours.error && { ...ours.error, message: normalise(ours.error.message) }).toEqual(vector.error && { ...vector.error, message: normalise(vector.error.message) });
  expect(ours.reply).toEqual(vector.reply);
}

const paths = (list: readonly string[]) => (w: { latin1List(items: readonly string[]): unknown }) => w.latin1List(list);

describe("builds through bunix's daemon, compared with the captured vectors", () => {
  test("nix-build-trivial: QueryMissing, then BuildPaths with the whole activity stream and the log line", async () => {
    const target = [`${drv("trivial")}!out`];
    const missing = await request(daemon.socket, Op.QueryMissing, paths(target), readMissing);
    expectSame(missing, await vectorExchange("nix-build-trivial", "op 40", 34, readMissing));
    const built = await request(daemon.socket, Op.BuildPaths, (w) => w.latin1List(target).u64(0), (r) => r.u64("result"));
    expectSame(built, await vectorExchange("nix-build-trivial", "op 9", 34, (r) => r.u64("result")));
  });

  test("nix-build-json-results: BuildPathsWithResults of a derivation whose input is built, with builtOutputs", async () => {
    await request(daemon.socket, Op.BuildPaths, (w) => w.latin1List([`${drv("trivial")}!out`]).u64(0), (r) => r.u64("result"));
    const ours = await request(daemon.socket, Op.BuildPathsWithResults, (w) => w.latin1List([`${drv("dependent")}!out`]).u64(0), readResults);
    expectSame(ours, await vectorExchange("nix-build-json-results", "op 46", 34, readResults));
  });

  test("build-failure-error: a failing builder ends BuildPaths with Nix's message and log tail", async () => {
    const ours = await request(daemon.socket, Op.BuildPaths, (w) => w.latin1List([`${drv("failing")}!out`]).u64(0), (r) => r.u64("result"));
    expectSame(ours, await vectorExchange("build-failure-error", "op 9", 34, (r) => r.u64("result")));
  });

  test("raw-build-derivation (1.34) and raw-build-derivation-1.28 (already valid)", async () => {
    const parsed = parseDerivation(readFileSync(join(daemon.storeDir, drv("bd").slice(daemon.storeDir.length + 1))));
    const write = (w: Parameters<typeof writeBasicDerivation>[0]) => {
      w.latin1(drv("bd"));
      const outputs = [...parsed.outputs].map(([name, o]) => ({ name, ...o }));
      writeBasicDerivation(w, { outputs, inputSrcs: [...parsed.inputSrcs], platform: parsed.platform, builder: parsed.builder, args: [...parsed.args], env: [...parsed.env] });
      w.u64(0);
    };
    const first = await request(daemon.socket, Op.BuildDerivation, write, readBuildDerivationReply(34));
    expectSame(first, await vectorExchange("raw-build-derivation", "op 36", 34, readBuildDerivationReply(34)));
    const again = await request(daemon.socket, Op.BuildDerivation, write, readBuildDerivationReply(28), { version: 0x11c });
    expectSame(again, await vectorExchange("raw-build-derivation-1.28", "op 36", 28, readBuildDerivationReply(28)));
  });

  test("raw-build-paths-1.19: no activities below 1.20, only 'building …...' as a line; raw-build-paths-1.20: activities", async () => {
    const old = await request(daemon.socket, Op.BuildPaths, (w) => w.latin1List([`${drv("v19")}!out`]).u64(0), (r) => r.u64("result"), { version: 0x113 });
    expectSame(old, await vectorExchange("raw-build-paths-1.19", "op 9", 19, (r) => r.u64("result")));
    const newer = await request(daemon.socket, Op.BuildPaths, (w) => w.latin1List([`${drv("v20")}!out`]).u64(0), (r) => r.u64("result"), { version: 0x114 });
    expectSame(newer, await vectorExchange("raw-build-paths-1.20", "op 9", 20, (r) => r.u64("result")));
  });

  test("raw-build-paths-with-results-order: one result per goal, paths first, then derivations by name; the failure inside", async () => {
    for (const attr of ["bd", "v19", "v20"]) await request(daemon.socket, Op.BuildPaths, (w) => w.latin1List([`${drv(attr)}!out`]).u64(0), (r) => r.u64("result"));
    const file = join(daemon.dir, "hello.txt");
    writeFileSync(file, "hello\n");
    const hello = runOk(["nix-store", "--add", file], { env: daemon.localEnv() }).toString().trim();
    const requested = [`${drv("v20")}!out`, hello, `${drv("bd")}!out`, `${drv("v19")}!*`, `${drv("failing")}!out`];
    const ours = await request(daemon.socket, Op.BuildPathsWithResults, (w) => w.latin1List(requested).u64(0), readResults);
    expectSame(ours, await vectorExchange("raw-build-paths-with-results-order", "op 46", 34, readResults));
  });
});
