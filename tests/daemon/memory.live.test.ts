/**
 * Memory stays flat however large a path is: a 1 GiB NAR goes into bunix's
 * daemon with AddToStoreNar (framed, sent with backpressure) and with real
 * `nix copy --to unix://`, and comes back out with NarFromPath, while the
 * daemon's peak resident size (VmHWM) stays far below the data's size.
 * Only a generous bound is asserted, never a time.
 *
 * And when memory does run out (a daemon under `prlimit --as`, clients
 * announcing 64 MiB strings and holding them back), the clients whose
 * allocation failed are told "bunix daemon out of memory" instead of
 * seeing a broken pipe, and the daemon goes on serving.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { WorkerClient } from "../../internal/daemon/client.ts";
import { OUT_OF_MEMORY_MESSAGE } from "../../internal/daemon/errors.ts";
import { createHasher } from "../../internal/hash/hasher.ts";
import { regularFileNarPrefix, regularFileNarSuffix } from "../../internal/nar/single-file.ts";
import { Op } from "../../internal/wire/worker-protocol.ts";
import { requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { inputAddressed, writeInfoFields } from "./nar-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

const SIZE = 1 << 30;
const PIECE = 1 << 20;
/** Far below the 1 GiB that passes through; a daemon that buffered a NAR would exceed it. */
const PEAK_LIMIT = 400 << 20;

let daemon: TestDaemon;
let dir: string;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon();
  dir = scratchDir("daemon-memory");
});

afterAll(async () => {
  await daemon?.stop();
});

function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmHWM for ${pid}`);
  return Number(match[1]) * 1024;
}

/** The contents of the big file (a repeating pattern), as chunks. */
function* bigContents(): Generator<Uint8Array> {
  const piece = Buffer.alloc(PIECE);
  for (let i = 0; i < PIECE; i++) piece[i] = (i * 131) & 0xff;
  for (let at = 0; at < SIZE; at += PIECE) yield piece;
}

/** Its NAR, as chunks. */
function* bigNar(): Generator<Uint8Array> {
  yield regularFileNarPrefix(SIZE, false);
  yield* bigContents();
  yield regularFileNarSuffix(SIZE);
}

/** Fetches a path's NAR with NarFromPath, returning its SHA-256 (base-16) and size. */
async function narFromPath(path: string): Promise<{ hash: string; size: number }> {
  const client = await WorkerClient.connect(daemon.socket);
  await client.setOptions();
  client.writer.u64(Op.NarFromPath).latin1(path);
  await client.send();
  await client.readStderr();
  const hasher = createHasher("sha256");
  const expected = (await queryNarSize(path)) ?? 0;
  let size = 0;
  while (size < expected) {
    const chunk = await client.reader.source.readSome(Math.min(PIECE, expected - size));
    hasher.update(chunk);
    size += chunk.length;
  }
  client.close();
  return { hash: hasher.finish().base16, size };
}

async function queryNarSize(path: string): Promise<number | undefined> {
  const client = await WorkerClient.connect(daemon.socket);
  await client.setOptions();
  const reader = await client.op(Op.QueryPathInfo, (w) => w.latin1(path));
  if (!(await reader.bool("valid"))) return undefined;
  await reader.latin1("deriver");
  await reader.latin1("narHash");
  await reader.latin1List("references");
  await reader.u64("registrationTime");
  const size = await reader.u64("narSize");
  client.close();
  return size;
}

test(
  "a 1 GiB NAR in with AddToStoreNar, back out with NarFromPath, in flat memory",
  async () => {
    const hasher = createHasher("sha256");
    let narSize = 0;
    for (const chunk of bigNar()) {
      hasher.update(chunk);
      narSize += chunk.length;
    }
    const narHash = hasher.finish();
    const info = { ...inputAddressed(daemon.storeDir, "big", new Uint8Array(0)), narHash, narSize };
    const client = await WorkerClient.connect(daemon.socket);
    await client.setOptions();
    client.writer.u64(Op.AddToStoreNar).latin1(info.path);
    writeInfoFields(client.writer, info);
    client.writer.bool(false).bool(true);
    for (const chunk of bigNar()) {
      client.writer.u64(chunk.length).raw(chunk);
      await client.send(); // waits for the socket: the daemon takes the data as fast as it stores it
    }
    client.writer.u64(0);
    await client.send();
    await client.readStderr();
    client.close();
    const back = await narFromPath(info.path);
    expect(back).toEqual({ hash: narHash.base16, size: narSize });
    expect(peakRss(daemon.process.pid)).toBeLessThan(PEAK_LIMIT);
  },
  600_000,
);

test(
  "a 1 GiB path with real nix copy --to unix://, in flat memory",
  async () => {
    const file = join(dir, "big-file");
    const fd = openSync(file, "w");
    for (const chunk of bigContents()) writeSync(fd, chunk);
    closeSync(fd);
    const source = join(dir, "source");
    const env = daemon.clientEnv({ NIX_REMOTE: "" });
    const path = runOk(["nix-store", "--store", source, "--add", file], { env }).toString().trim();
    rmSync(file);
    runOk(["nix", "copy", "--no-check-sigs", "--from", `local?root=${source}`, "--to", `unix://${daemon.socket}`, path], { env: daemon.clientEnv() });
    const expected = runOk(["nix-store", "--store", source, "-q", "--hash", path], { env }).toString().trim();
    rmSync(source, { recursive: true, force: true });
    const back = await narFromPath(path);
    const base32 = runOk(["nix-hash", "--type", "sha256", "--to-base32", back.hash], { env }).toString().trim();
    expect(`sha256:${base32}`).toBe(expected);
    expect(peakRss(daemon.process.pid)).toBeLessThan(PEAK_LIMIT);
  },
  600_000,
);

test(
  "clients whose requests exhaust the daemon's memory get an out-of-memory error, and the daemon goes on",
  async () => {
    // Under an address-space limit, 60 clients each make the daemon reserve a 64 MiB string buffer
    // (AddTextToStore's text length, then no data): far more than the limit allows.
    const limited = await startDaemon("bunix", { wrap: ["prlimit", `--as=${1500 << 20}`] });
    try {
      const clients: WorkerClient[] = [];
      const outcomes: Array<Promise<string>> = [];
      for (let i = 0; i < 60; i++) {
        const client = await WorkerClient.connect(limited.socket);
        await client.setOptions();
        client.writer.u64(Op.AddTextToStore).latin1(`hog-${i}`).u64(64 << 20);
        await client.send();
        clients.push(client);
        outcomes.push(client.readStderr().then(() => "no error", (error: Error) => error.message));
      }
      const settled = await Promise.all(outcomes.map((o) => Promise.race([o, Bun.sleep(3000).then(() => "still waiting")])));
      const errors = settled.filter((s) => s !== "still waiting");
      expect(errors.length).toBeGreaterThan(0);
      expect(new Set(errors)).toEqual(new Set([OUT_OF_MEMORY_MESSAGE]));
      for (const client of clients) client.close();
      const after = await WorkerClient.connect(limited.socket);
      await after.setOptions();
      const reader = await after.op(Op.AddTextToStore, (w) => w.latin1("after.txt").latin1("after\n").latin1List([]));
      expect(await reader.latin1("path")).toEndWith("-after.txt");
      after.close();
      expect(limited.log()).toContain(`error processing connection: ${OUT_OF_MEMORY_MESSAGE}`);
    } finally {
      await limited.stop();
    }
  },
  120_000,
);
