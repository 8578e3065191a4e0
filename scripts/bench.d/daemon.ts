/**
 * The daemon suite: `bunix daemon` against real `nix-daemon`, both serving
 * identical copies of one store (a template of 100 small paths added by real
 * nix-store), talked to by the same client (internal/daemon/client.ts) over
 * their Unix sockets:
 *
 * 1. 10,000 QueryPathInfo round trips on one connection;
 * 2. 1,000 AddToStore (framed NAR, fixed:r:sha256) of distinct small files
 *    on one connection;
 * 3. the same 1,000 adds spread over 8 connections at once.
 *
 * Connections are opened (handshake, SetOptions) before the clock starts.
 * Each run adds new contents, the same on both daemons, which must return
 * the same store paths. The two daemons alternate which goes first. Peak
 * memory is read from /proc at the end: bunix's one process, and nix-daemon's
 * main process plus its per-connection children (sampled while their
 * connections are open). Goal: ratio >= 1 (no slower than nix-daemon).
 *
 * BUNIX_BENCH_DAEMON names another bunix binary to serve (default: the
 * benchmark's dist/bunix).
 */
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { WorkerClient } from "../../internal/daemon/client.ts";
import { addFiles, connect, daemonCpuMs, daemonMemory, queryPathInfos } from "./daemon-load.ts";
import { BenchFailure, log } from "./log.ts";
import { type Comparison, type Side, median } from "./measure.ts";
import { fmtMB, table } from "./report.ts";
import type { Suite, SuiteContext, SuiteResult } from "./suite.ts";
import { round } from "./units.ts";

const FULL = { templatePaths: 100, queries: 10_000, adds: 1_000, connections: 8 };
const QUICK = { templatePaths: 20, queries: 1_000, adds: 100, connections: 8 };
const NIX_CONF = "substituters =\nbuild-users-group =\nexperimental-features = nix-command\n";

export const daemonSuite: Suite = {
  name: "daemon",
  description: "bunix daemon vs nix-daemon: 10,000 QueryPathInfo, 1,000 AddToStore on 1 and on 8 connections",
  workEntries: ["daemon"],
  run: runDaemonSuite,
};

type Who = "nix" | "bunix";

interface RunningDaemon {
  who: Who;
  socket: string;
  process: Subprocess;
  logFile: string;
  /** Peak memory seen so far (bytes): the whole daemon, and its largest connection process. */
  peak: { totalBytes: number; largestConnectionBytes: number };
}

function shell(argv: string[], env: Record<string, string>): string {
  const result = Bun.spawnSync(argv, { env, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new BenchFailure(`'${argv.slice(0, 4).join(" ")} ...' failed: ${result.stderr.toString().trim().slice(-2000)}`);
  return result.stdout.toString();
}

/** A store (chroot layout: logical /nix/store) with `count` small paths added by real nix-store. */
function makeTemplate(dir: string, count: number, env: Record<string, string>): string[] {
  const files = join(dir, "files");
  mkdirSync(files, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = join(files, `template-${i}`);
    writeFileSync(name, `template file ${i}\n`);
    names.push(name);
  }
  return shell(["nix-store", "--store", join(dir, "template"), "--add", ...names], env).trim().split("\n");
}

async function startDaemon(who: Who, root: string, dir: string, bunix: string, env: Record<string, string>): Promise<RunningDaemon> {
  const socket = join(dir, `${who}.sock`);
  const logFile = join(dir, `${who}-daemon.log`);
  const argv = who === "nix" ? ["nix-daemon", "--option", "store", root] : [bunix, "daemon", "--socket", socket, "--store", root];
  const proc = Bun.spawn(argv, { env: { ...env, NIX_DAEMON_SOCKET_PATH: socket }, stdin: "ignore", stdout: Bun.file(logFile), stderr: Bun.file(logFile) });
  const deadline = Date.now() + 20_000;
  while (!existsSync(socket)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new BenchFailure(`${who} daemon did not start: ${await Bun.file(logFile).text()}`);
    await Bun.sleep(20);
  }
  return { who, socket, process: proc, logFile, peak: { totalBytes: 0, largestConnectionBytes: 0 } };
}

function notePeak(daemon: RunningDaemon): void {
  const now = daemonMemory(daemon.process.pid);
  daemon.peak.totalBytes = Math.max(daemon.peak.totalBytes, now.totalBytes);
  daemon.peak.largestConnectionBytes = Math.max(daemon.peak.largestConnectionBytes, now.largestConnectionBytes);
}

/** Opens `n` connections, runs `work` on them (timed by `work` itself), samples the daemon's CPU time and memory, closes them. */
async function withConnections(daemon: RunningDaemon, n: number, work: (clients: WorkerClient[]) => Promise<number>): Promise<Timing> {
  // One after the other: nix-daemon listens with a backlog of 5, and a non-blocking connect beyond it fails.
  const clients: WorkerClient[] = [];
  for (let i = 0; i < n; i++) clients.push(await connect(daemon.socket));
  try {
    const cpuBefore = daemonCpuMs(daemon.process.pid);
    const ms = await work(clients);
    // Sampled before the connections close: nix-daemon's connection processes end with them.
    const cpuMs = daemonCpuMs(daemon.process.pid) - cpuBefore;
    notePeak(daemon);
    return { ms, cpuMs };
  } finally {
    for (const client of clients) client.close();
  }
}

interface Timing {
  ms: number;
  /** CPU time of the daemon's processes meanwhile. */
  cpuMs: number;
}

function side(timings: Timing[]): Side {
  const ms = timings.map((t) => t.ms);
  return {
    medianMs: round(median(ms), 2),
    minMs: round(Math.min(...ms), 2),
    samplesMs: ms.map((m) => round(m, 2)),
    medianCpuMs: round(median(timings.map((t) => t.cpuMs)), 2),
  };
}

interface Measurement {
  key: string;
  label: string;
  /** Operations per run, for the per-operation figure. */
  ops: number;
  connections: number;
  run(daemon: RunningDaemon, runIndex: number): Promise<Timing & { paths: string[] }>;
}

async function runDaemonSuite(context: SuiteContext): Promise<SuiteResult> {
  const { tools, work, options } = context;
  const size = options.quick ? QUICK : FULL;
  const runs = options.quick ? 1 : Math.max(3, Math.min(options.runs, 7));
  const bunix = process.env["BUNIX_BENCH_DAEMON"] || tools.bunix;
  const dir = join(work, "daemon");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "conf"), { recursive: true });
  writeFileSync(join(dir, "conf", "nix.conf"), NIX_CONF);
  const env = { ...tools.env, NIX_CONF_DIR: join(dir, "conf") };

  log(`daemon: template store of ${size.templatePaths} paths (nix-store --add)`);
  const paths = makeTemplate(dir, size.templatePaths, env);
  const daemons: RunningDaemon[] = [];
  try {
    for (const who of ["nix", "bunix"] as const) {
      cpSync(join(dir, "template"), join(dir, `${who}-root`), { recursive: true });
      daemons.push(await startDaemon(who, join(dir, `${who}-root`), dir, bunix, env));
    }
    const measurements: Measurement[] = [
      {
        key: "daemonQueryPathInfo",
        label: `daemon: ${size.queries.toLocaleString("en")} QueryPathInfo, 1 connection`,
        ops: size.queries,
        connections: 1,
        run: async (d) => ({ ...(await withConnections(d, 1, ([client]) => queryPathInfos(client!, paths, size.queries))), paths: [] }),
      },
      ...[1, size.connections].map(
        (n): Measurement => ({
          key: n === 1 ? "daemonAdd" : `daemonAdd${n}`,
          label: `daemon: ${size.adds.toLocaleString("en")} AddToStore, ${n} connection${n === 1 ? "" : "s"}`,
          ops: size.adds,
          connections: n,
          run: async (d, i) => {
            let made: string[] = [];
            const timing = await withConnections(d, n, async (clients) => {
              const result = await addFiles(clients, `c${n}-r${i}`, size.adds);
              made = result.paths;
              return result.ms;
            });
            return { ...timing, paths: made };
          },
        }),
      ),
    ];
    const rows: Comparison[] = [];
    const perOp: string[][] = [];
    for (const m of measurements) {
      log(`${m.label}: warm-up + ${runs} runs each`);
      const timings: Record<Who, Timing[]> = { nix: [], bunix: [] };
      // Warm-up (index -1): page cache, JIT of the client, the daemons' first connections.
      for (let i = -1; i < runs; i++) {
        const made: Partial<Record<Who, string[]>> = {};
        for (const d of i % 2 === 0 ? daemons : [...daemons].reverse()) {
          const result = await m.run(d, i);
          made[d.who] = result.paths;
          if (i >= 0) timings[d.who].push(result);
        }
        if (JSON.stringify(made.nix) !== JSON.stringify(made.bunix)) throw new BenchFailure(`${m.label}: the daemons made different store paths`);
      }
      const nix = side(timings.nix);
      const b = side(timings.bunix);
      rows.push({ key: m.key, label: m.label, bytes: 0, nix, bunix: b, ratio: round(nix.medianMs / b.medianMs, 3) });
      const us = (s: Side) => `${round((s.medianMs * 1000) / m.ops, 1)} µs`;
      perOp.push([
        m.label.replace("daemon: ", ""),
        us(nix),
        us(b),
        `${(b.medianMs / nix.medianMs).toFixed(2)}`,
        `${Math.round((m.ops / nix.medianMs) * 1000)}/s`,
        `${Math.round((m.ops / b.medianMs) * 1000)}/s`,
      ]);
    }
    const [nixDaemon, bunixDaemon] = [daemons.find((d) => d.who === "nix")!, daemons.find((d) => d.who === "bunix")!];
    const memoryRows = [
      ["whole daemon (all processes)", fmtMB(nixDaemon.peak.totalBytes), fmtMB(bunixDaemon.peak.totalBytes)],
      ["largest connection process", fmtMB(nixDaemon.peak.largestConnectionBytes), "(one process)"],
    ];
    return {
      summary: [
        `daemon: bunix daemon vs nix-daemon on copies of one store of ${size.templatePaths} paths, same client; connections opened before timing; median of ${runs} runs (wall time; cpu = the daemon's processes only)`,
      ],
      rows,
      sections: [
        table(["daemon: per operation", "nix", "bunix", "time bunix/nix", "nix ops/s", "bunix ops/s"], perOp, new Set([1, 2, 3, 4, 5])),
        table(["daemon: peak RSS (VmHWM)", "nix-daemon", "bunix daemon"], memoryRows, new Set([1, 2])),
      ],
      json: {
        daemon: {
          ...size,
          runs,
          peakRss: {
            nix: nixDaemon.peak,
            bunix: bunixDaemon.peak,
          },
        },
      },
    };
  } finally {
    for (const d of daemons) {
      d.process.kill("SIGTERM");
      await d.process.exited;
    }
  }
}
