/**
 * The daemon suite's load and its measuring: worker-protocol requests sent
 * with one client implementation (internal/daemon/client.ts) to either
 * daemon, and the daemons' memory read from /proc (nix-daemon forks one
 * process per connection, bunix serves all in one).
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { WorkerClient } from "../../internal/daemon/client.ts";
import { frame } from "../../internal/wire/framed.ts";
import { Op } from "../../internal/wire/worker-protocol.ts";
import { readPathInfo } from "../../internal/wire/worker-types.ts";
import { WireWriter } from "../../internal/wire/writer.ts";
import { BenchFailure } from "./log.ts";

/** A connected client that has sent SetOptions, as a real client does first. */
export async function connect(socket: string): Promise<WorkerClient> {
  const client = await WorkerClient.connect(socket);
  await client.setOptions();
  return client;
}

/** `count` QueryPathInfo round trips over `paths` (all valid), one after the other; returns ms. */
export async function queryPathInfos(client: WorkerClient, paths: readonly string[], count: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const path = paths[i % paths.length]!;
    const reply = await client.op(Op.QueryPathInfo, (w) => w.latin1(path));
    if (!(await reply.bool("valid"))) throw new BenchFailure(`QueryPathInfo: ${path} is not valid`);
    await readPathInfo(reply, client.minor);
  }
  return performance.now() - start;
}

/** The NAR of a regular file with `contents`. */
export function fileNar(contents: Uint8Array): Uint8Array {
  return new WireWriter().text("nix-archive-1").text("(").text("type").text("regular").text("contents").bytes(contents).text(")").take();
}

/** One AddToStore (minor >= 25: framed NAR, fixed:r:sha256); returns the store path the daemon made. */
export async function addFile(client: WorkerClient, name: string, contents: Uint8Array): Promise<string> {
  client.writer.u64(Op.AddToStore).text(name).text("fixed:r:sha256").latin1List([]).bool(false);
  for (const piece of frame(fileNar(contents))) client.writer.raw(piece);
  await client.send();
  await client.readStderr();
  const path = await client.reader.latin1("the added path");
  await readPathInfo(client.reader, client.minor);
  return path;
}

/**
 * `count` adds of distinct small files (contents made from `tag` and the
 * index) spread over `clients`, each client sending its share one after the
 * other, all clients at once. Returns the time and the paths made.
 */
export async function addFiles(clients: readonly WorkerClient[], tag: string, count: number): Promise<{ ms: number; paths: string[] }> {
  const paths: string[] = new Array(count);
  const start = performance.now();
  await Promise.all(
    clients.map(async (client, c) => {
      for (let i = c; i < count; i += clients.length) {
        paths[i] = await addFile(client, `bench-${tag}-${i}`, Buffer.from(`${tag} file ${i}\n`));
      }
    }),
  );
  return { ms: performance.now() - start, paths };
}

// ----------------------------------------------------------------- memory

function statusField(pid: number, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0; // the process is gone
  }
}

/** Peak resident memory (VmHWM) of a live process, in bytes. */
export function peakRssOf(pid: number): number {
  return statusField(pid, "VmHWM");
}

/** Clock ticks per second of /proc/PID/stat times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "(comm) ".
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU time used so far by a daemon and its live per-connection children, in ms (10 ms resolution). */
export function daemonCpuMs(pid: number): number {
  return cpuMsOf(pid) + childrenOf(pid).reduce((sum, child) => sum + cpuMsOf(child), 0);
}

/** The live children of `pid` (scanning /proc: this kernel may lack /proc/PID/task/TID/children). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/**
 * The memory a daemon holds for its connections right now: its own peak
 * plus the peaks of its per-connection children (nix-daemon), whose largest
 * is reported too.
 */
export function daemonMemory(pid: number): { totalBytes: number; largestConnectionBytes: number } {
  if (!existsSync(`/proc/${pid}`)) throw new BenchFailure(`the daemon (pid ${pid}) is gone`);
  const own = peakRssOf(pid);
  const children = childrenOf(pid).map(peakRssOf);
  const largest = Math.max(0, ...children);
  return { totalBytes: own + children.reduce((a, b) => a + b, 0), largestConnectionBytes: largest };
}
