/**
 * Many real Nix 2.8 clients at once against one bunix daemon, for about a minute
 * (BUNIX_LOAD_SECONDS): 16 workers, each looping over adds (distinct files
 * and one file every worker adds), queries (nix-store -q --references and
 * --requisites, nix path-info --json) and builds (derivations of its own,
 * and a few that every worker builds at the same time). No client may see
 * an error; afterwards real `nix-store --verify --check-contents` must find
 * the store clean, every path a client was given must be valid, and the
 * daemon's peak memory must stay bounded. Not timed: the figures are
 * printed, never asserted.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireNix, run } from "../helpers/nix.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

const WORKERS = 16;
const SECONDS = Number(process.env.BUNIX_LOAD_SECONDS ?? 60);
/** Far above what the daemon needs (about 100 MB); a leak over a minute of load would cross it. */
const RSS_LIMIT = 512 << 20;

setDefaultTimeout((SECONDS + 60) * 1000);

let daemon: TestDaemon;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon("bunix");
});

afterAll(async () => {
  await daemon?.stop();
});

interface Outcome {
  worker: number;
  argv: string[];
  code: number;
  stdout: string;
  stderr: string;
}

/** One real client command, asynchronously (the workers run side by side). */
async function client(worker: number, argv: string[]): Promise<Outcome> {
  const proc = Bun.spawn(argv, { env: daemon.clientEnv(), cwd: daemon.dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { worker, argv, code, stdout, stderr };
}

function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

const EXPRESSION = `{ tag, dep ? "none" }:
let
  mk = name: script: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" script ]; };
  base = mk "load-base-\${dep}" "echo base \${dep} > $out";
in mk "load-\${tag}" "read line < \${base}; echo \\"\${tag} $line\\" > $out"
`;

describe("16 real Nix clients at once", () => {
  test(`adds, queries and builds for ${SECONDS} s: no client error, a clean store, bounded memory`, async () => {
    const expression = join(daemon.dir, "load.nix");
    writeFileSync(expression, EXPRESSION);
    const shared = join(daemon.dir, "shared.txt");
    writeFileSync(shared, "every worker adds this file\n");
    const failures: Outcome[] = [];
    const paths = new Set<string>();
    const counts = { add: 0, query: 0, build: 0 };
    let peak = { rss: 0, hwm: 0 };
    const deadline = Date.now() + SECONDS * 1000;

    const check = (outcome: Outcome): string => {
      if (outcome.code !== 0 || outcome.stderr.includes("error")) failures.push(outcome);
      return outcome.stdout.trim();
    };

    const worker = async (w: number): Promise<void> => {
      const mine: string[] = [];
      for (let i = 0; Date.now() < deadline; i++) {
        const file = join(daemon.dir, `w${w}-${i}.txt`);
        writeFileSync(file, `worker ${w} file ${i}\n`);
        for (const added of [check(await client(w, ["nix-store", "--add", file])), check(await client(w, ["nix-store", "--add", shared]))]) {
          if (added !== "") mine.push(added);
          counts.add++;
        }
        // A build of its own (on a dependency shared by a quarter of the workers), and one all workers build.
        for (const args of [
          ["--argstr", "tag", `w${w}-${i}`, "--argstr", "dep", `d${w % 4}`],
          ["--argstr", "tag", `shared-${i % 3}`],
        ]) {
          const out = check(await client(w, ["nix-build", "--no-out-link", expression, ...args]));
          if (out !== "") mine.push(out);
          counts.build++;
        }
        const target = mine[(i * 7) % mine.length]!;
        check(await client(w, ["nix-store", "-q", "--references", target]));
        check(await client(w, ["nix-store", "-q", "--requisites", target]));
        const info = check(await client(w, ["nix", "path-info", "--json", "--store", `unix://${daemon.socket}`, target]));
        if (info !== "" && JSON.parse(info)[0]?.path !== target) failures.push({ worker: w, argv: ["path-info", target], code: 0, stdout: info, stderr: "wrong path" });
        counts.query += 3;
      }
      for (const p of mine) paths.add(p);
    };

    const sampler = setInterval(() => {
      const now = memoryOf(daemon.process.pid);
      peak = { rss: Math.max(peak.rss, now.rss), hwm: Math.max(peak.hwm, now.hwm) };
    }, 250);
    try {
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      peak.hwm = Math.max(peak.hwm, memoryOf(daemon.process.pid).hwm);
    } finally {
      clearInterval(sampler);
    }
    const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `load: ${WORKERS} clients, ${SECONDS} s: ${counts.add} adds, ${counts.build} builds, ${counts.query} queries; ` +
        `${paths.size} distinct paths; daemon peak RSS ${mb(peak.hwm)} (highest sampled VmRSS ${mb(peak.rss)})`,
    );

    expect(failures.map((f) => `worker ${f.worker}: ${f.argv.join(" ")} -> ${f.code}: ${f.stderr}`)).toEqual([]);
    expect(counts.build).toBeGreaterThan(WORKERS);
    expect(peak.hwm).toBeLessThan(RSS_LIMIT);

    // The store, checked by real Nix directly (the daemon stays up: its connections are all closed).
    const validity = run(["nix-store", "--check-validity", ...paths], { env: daemon.localEnv() });
    expect({ code: validity.code, stderr: validity.stderr }).toEqual({ code: 0, stderr: "" });
    const verify = run(["nix-store", "--verify", "--check-contents"], { env: daemon.localEnv() });
    expect(verify.code).toBe(0);
    expect(verify.stderr.split("\n").filter((line) => line !== "" && !/^(reading the Nix store|checking path existence|checking hashes|checking link hashes|checking store hashes)\.\.\.$/.test(line))).toEqual([]);
  });
});
