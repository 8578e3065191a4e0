/**
 * The same requests sent to bunix's daemon and to real nix-daemon 2.8, each
 * over its own throw-away store: the transcripts (stderr messages with
 * activities, progress and log lines, logged errors, replies and errors)
 * must be the same once store paths are compared by name. Covers goal
 * order and merging, a dependency chain, several outputs, dependency and
 * multiple failures, missing derivations and paths, timeouts, check mode,
 * BuildDerivation, QueryMissing, EnsurePath, old clients and untrusted ones.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDerivation } from "../../internal/derivation/aterm-parse.ts";
import type { WireReader } from "../../internal/wire/reader.ts";
import { readBuildResult, writeBasicDerivation } from "../../internal/wire/worker-types.ts";
import type { WireWriter } from "../../internal/wire/writer.ts";
import { requireNix } from "../helpers/nix.ts";
import { type Exchange, type RequestOptions, describeMessages, describeResult, instantiate, normalise, request } from "./build-support.ts";
import { DEFAULT_NIX_CONF, type TestDaemon, startDaemon } from "./support.ts";

const MISSING_DRV = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-missing.drv";
const MISSING_PATH = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nothing";

/** Records requests to one daemon as comparable lines. */
class Transcript {
  readonly lines: string[] = [];
  readonly drvs: Map<string, string>;

  constructor(readonly daemon: TestDaemon) {
    this.drvs = instantiate(daemon, ["leaf", "mid", "top", "multi", "usesLib", "failing", "fail2", "dep", "silent", "bd", "trivial"]);
  }

  drv(attr: string, outputs = "out"): string {
    return `${this.drvs.get(attr)!}!${outputs}`;
  }

  missing(name: string): string {
    return join(this.daemon.storeDir, name);
  }

  private record(title: string, exchange: Exchange): void {
    this.lines.push(`== ${title}`, ...describeMessages(exchange.messages));
    if (exchange.error) this.lines.push(`ERROR ${exchange.error.exitStatus} ${sortedPathList(normalise(JSON.stringify(exchange.error.message)))}`);
    else this.lines.push(`REPLY ${normalise(JSON.stringify(exchange.reply))}`);
  }

  async op(title: string, op: number, write: (w: WireWriter, minor: number) => void, read: (r: WireReader, minor: number) => Promise<unknown>, options?: RequestOptions): Promise<void> {
    this.record(title, await request(this.daemon.socket, op, write, read, options));
  }

  async buildPaths(title: string, paths: string[], options?: RequestOptions & { mode?: number }): Promise<void> {
    await this.op(title, 9, (w, minor) => {
      w.latin1List(paths);
      if (minor >= 15) w.u64(options?.mode ?? 0);
    }, (r) => r.u64("result"), options);
  }

  async withResults(title: string, paths: string[], options?: RequestOptions & { mode?: number }): Promise<void> {
    await this.op(title, 46, (w) => w.latin1List(paths).u64(options?.mode ?? 0), async (r) => {
      const n = await r.u64("count");
      const lines: string[] = [];
      for (let i = 0; i < n; i++) {
        const { path, result } = await readBuildResult(r);
        lines.push(describeResult(path, result));
      }
      return lines;
    }, options);
  }

  /** BuildDerivation of an instantiated derivation, sent inline (plus extra input sources). */
  async buildDerivation(title: string, attr: string, extraSources: string[] = [], options?: RequestOptions): Promise<void> {
    const drvPath = this.drvs.get(attr)!;
    const drv = parseDerivation(readFileSync(drvPath));
    await this.op(title, 36, (w) => {
      w.latin1(drvPath);
      const outputs = [...drv.outputs].map(([name, o]) => ({ name, ...o }));
      writeBasicDerivation(w, { outputs, inputSrcs: [...drv.inputSrcs, ...extraSources].sort(), platform: drv.platform, builder: drv.builder, args: [...drv.args], env: [...drv.env] });
      w.u64(0);
    }, async (r, minor) => {
      const fields: unknown[] = [await r.u64("status"), await r.text("errorMsg")];
      if (minor >= 29) fields.push(await r.u64("timesBuilt"), await r.bool("nd"), (await r.u64("start")) > 0, (await r.u64("stop")) > 0);
      const n = await r.u64("count");
      for (let i = 0; i < n; i++) fields.push(await r.latin1("id"), await r.text("realisation"));
      return fields;
    }, options);
  }

  /** The output path of an instantiated derivation, read from its .drv. */
  output(attr: string, name = "out"): string {
    return parseDerivation(readFileSync(this.drvs.get(attr)!)).outputs.get(name)!.path;
  }
}

/** "build of 'A', 'B' failed" lists paths by hash: compare the list as a set. */
function sortedPathList(text: string): string {
  return text.replace(/build of \\u001b\[35;1m(.*?)\\u001b\[0m failed/, (_, list: string) => `build of {${list.split(", ").sort().join(", ")}} failed`);
}

async function scenarios(t: Transcript): Promise<void> {
  // Path sets come sorted by path, that is by hash: compared as sets of names.
  const set = async (r: WireReader, what: string) => (await r.latin1List(what)).map(normalise).sort();
  const readMissing = async (r: WireReader) => [await set(r, "willBuild"), await set(r, "willSubstitute"), await set(r, "unknown"), await r.u64("d"), await r.u64("n")];
  await t.op("QueryMissing before anything is built", 40, (w) => w.latin1List([t.drv("top"), t.drv("multi", "dev"), t.missing(MISSING_PATH), `${t.missing(MISSING_DRV)}!out`, t.drvs.get("leaf")!]), readMissing);
  await t.withResults("a chain: exploration, then each build with its log line", [t.drv("top")]);
  await t.withResults("again: already valid", [t.drv("top"), t.drv("mid"), t.drv("leaf", "*")]);
  await t.withResults("several outputs asked separately and merged, one input of another", [t.drv("usesLib"), t.drv("multi", "dev"), t.drv("multi", "lib")]);
  await t.withResults("order: opaque paths first, derivations by name; failure stops the rest", [t.drv("trivial"), t.output("leaf"), t.drv("failing"), t.drv("bd", "*")]);
  await t.withResults("a failing input: logged, the dependent fails with DependencyFailed", [t.drv("dep")]);
  await t.withResults("a missing derivation and a missing path", [`${t.missing(MISSING_DRV)}!out`, t.missing(MISSING_PATH)]);
  await t.buildPaths("BuildPaths: two failures with keep-going", [t.drv("failing"), t.drv("fail2")], { overrides: [["keep-going", "true"]] });
  await t.buildPaths("BuildPaths: a missing path", [t.missing(MISSING_PATH)]);
  await t.buildPaths("BuildPaths at 1.25: old error form with exit status 100", [t.drvs.get("failing")!], { version: 0x119 });
  await t.buildPaths("BuildPaths at 1.19: a failure, no activities", [`${t.drvs.get("failing")!}!out`], { version: 0x113 });
  await t.withResults("max-silent-time: TimedOut, named after the goal", [t.drv("silent")], { overrides: [["max-silent-time", "1"]] });
  await t.withResults("check mode rebuilds and compares", [t.drv("leaf")], { mode: 2 });
  await t.buildDerivation("BuildDerivation with its input as a source", "mid", [t.output("leaf")]);
  await t.buildDerivation("BuildDerivation with a missing source: MiscFailure", "dep", [t.missing(MISSING_PATH)]);
  await t.op("EnsurePath of a missing path", 10, (w) => w.latin1(t.missing(MISSING_PATH)), (r) => r.u64("1"));
  await t.op("EnsurePath of a valid path", 10, (w) => w.latin1(t.output("leaf")), (r) => r.u64("1"));
  await t.op("EnsurePath at 1.25", 10, (w) => w.latin1(t.missing(MISSING_PATH)), (r) => r.u64("1"), { version: 0x119 });
}

async function untrustedScenarios(t: Transcript): Promise<void> {
  await t.buildDerivation("untrusted BuildDerivation of an input-addressed derivation", "bd");
  await t.withResults("untrusted repair is refused before the channel opens", [t.drv("bd")], { mode: 1 });
  await t.buildPaths("untrusted repair (BuildPaths)", [t.drv("bd")], { mode: 1 });
  await t.withResults("untrusted builds are fine", [t.drv("bd")]);
}

let transcripts: { nix: string[]; bunix: string[]; nixUntrusted: string[]; bunixUntrusted: string[] };

beforeAll(async () => {
  requireNix();
  const run = async (kind: "nix" | "bunix", untrusted: boolean) => {
    const daemon = await startDaemon(kind, untrusted ? { nixConf: `${DEFAULT_NIX_CONF}trusted-users = nobody\n` } : {});
    try {
      const t = new Transcript(daemon);
      await (untrusted ? untrustedScenarios(t) : scenarios(t));
      return t.lines;
    } finally {
      await daemon.stop();
    }
  };
  const [nix, bunix, nixUntrusted, bunixUntrusted] = await Promise.all([run("nix", false), run("bunix", false), run("nix", true), run("bunix", true)]);
  transcripts = { nix, bunix, nixUntrusted, bunixUntrusted };
}, 120_000);

/** The lines of one request of a transcript. */
function section(lines: readonly string[], title: string): string[] {
  const start = lines.indexOf(`== ${title}`);
  if (start < 0) throw new Error(`no request '${title}' in the transcript`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith("== "));
  return lines.slice(start, end < 0 ? undefined : end);
}

describe("bunix's daemon and nix-daemon answer the same", () => {
  const titles = [
    "QueryMissing before anything is built",
    "a chain: exploration, then each build with its log line",
    "again: already valid",
    "several outputs asked separately and merged, one input of another",
    "order: opaque paths first, derivations by name; failure stops the rest",
    "a failing input: logged, the dependent fails with DependencyFailed",
    "a missing derivation and a missing path",
    "BuildPaths: two failures with keep-going",
    "BuildPaths: a missing path",
    "BuildPaths at 1.25: old error form with exit status 100",
    "BuildPaths at 1.19: a failure, no activities",
    "max-silent-time: TimedOut, named after the goal",
    "check mode rebuilds and compares",
    "BuildDerivation with its input as a source",
    "BuildDerivation with a missing source: MiscFailure",
    "EnsurePath of a missing path",
    "EnsurePath of a valid path",
    "EnsurePath at 1.25",
  ];
  for (const title of titles) {
    test(title, () => {
      expect(section(transcripts.bunix, title)).toEqual(section(transcripts.nix, title));
    });
  }

  for (const title of ["untrusted BuildDerivation of an input-addressed derivation", "untrusted repair is refused before the channel opens", "untrusted repair (BuildPaths)", "untrusted builds are fine"]) {
    test(title, () => {
      expect(section(transcripts.bunixUntrusted, title)).toEqual(section(transcripts.nixUntrusted, title));
    });
  }

  test("the transcripts are the same as a whole", () => {
    expect(transcripts.bunix).toEqual(transcripts.nix);
    expect(transcripts.bunixUntrusted).toEqual(transcripts.nixUntrusted);
  });
});
