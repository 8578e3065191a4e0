/**
 * AddToStoreNar and the other add operations spoken raw (WorkerClient):
 * every protocol version's form, what gets registered, repair and
 * already-valid paths, and malformed input, which must give the client a
 * clear error, register nothing, leave no staging directory and never stop
 * the daemon from serving.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RemoteError, WorkerClient } from "../../internal/daemon/client.ts";
import { hashBytes } from "../../internal/hash/hasher.ts";
import { frame } from "../../internal/wire/framed.ts";
import { Op } from "../../internal/wire/worker-protocol.ts";
import { readPathInfo } from "../../internal/wire/worker-types.ts";
import { WireWriter } from "../../internal/wire/writer.ts";
import { requireNix, runOk } from "../helpers/nix.ts";
import { type TestDaemon, startDaemon } from "./support.ts";
import { type NarInfo, addToStoreNar, contentAddressed, fileNar, inputAddressed, isValid, stagingLeftovers, writeInfoFields } from "./nar-support.ts";

let daemon: TestDaemon;
const V120 = 0x114;
const V122 = 0x116;
const V124 = 0x118;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon();
});

afterAll(async () => {
  await daemon?.stop();
});

async function connect(version?: number): Promise<WorkerClient> {
  const client = await WorkerClient.connect(daemon.socket, version);
  await client.setOptions();
  return client;
}

async function queryInfo(client: WorkerClient, path: string) {
  const reader = await client.op(Op.QueryPathInfo, (w) => w.latin1(path));
  expect(await reader.bool("valid")).toBe(true);
  return readPathInfo(reader, client.minor);
}

/** A message without Nix's highlighting (ANSI colours around its arguments). */
function plain(message: string): string {
  return message.replace(/\x1b\[[0-9;]*m/g, "");
}

/** The daemon still serves a fresh connection. */
async function expectServing(): Promise<void> {
  const other = await connect();
  expect(await isValid(other, `${daemon.storeDir}/00000000000000000000000000000000-nothing`)).toBe(false);
  other.close();
}

describe("AddToStoreNar in every protocol form", () => {
  for (const [label, version] of [["1.34 (framed)", undefined], ["1.22 (STDERR_READ)", V122], ["1.20 (inline)", V120]] as const) {
    test(`${label}: the path is registered with the info sent`, async () => {
      const client = await connect(version);
      const dep = contentAddressed(daemon.storeDir, "dep", `dependency for ${label}\n`);
      await addToStoreNar(client, dep.info, dep.nar);
      const nar = fileNar(`refers to ${dep.info.path}\n`);
      const info: NarInfo = {
        ...inputAddressed(daemon.storeDir, "top", nar, [dep.info.path]),
        deriver: `${daemon.storeDir}/00000000000000000000000000000000-top.drv`,
        registrationTime: 1_600_000_000,
        ultimate: true,
        sigs: ["someone-1:bm90IGNoZWNrZWQ="],
      };
      await addToStoreNar(client, info, nar, { dontCheckSigs: true, frameSize: 7 }); // frames need not follow the NAR's tokens
      const got = await queryInfo(client, info.path);
      expect(got.narHash).toBe(info.narHash.base16);
      expect(got.narSize).toBe(nar.length);
      expect(got.references).toEqual([dep.info.path]);
      expect(got.deriver).toBe(info.deriver);
      expect(got.registrationTime).toBe(1_600_000_000);
      if (client.minor >= 16) {
        expect(got.ultimate).toBe(true);
        expect(got.sigs).toEqual(info.sigs);
      }
      expect(readFileSync(join(daemon.storeDir, info.path.split("/").pop()!), "utf8")).toBe(`refers to ${dep.info.path}\n`);
      // Already valid: a no-op that still consumes the NAR; the connection stays in step.
      await addToStoreNar(client, info, nar, { dontCheckSigs: true });
      expect(await isValid(client, info.path)).toBe(true);
      client.close();
    });
  }

  test("a content-addressed path needs no signature, even with signature checks on", async () => {
    const client = await connect();
    const { info, nar } = contentAddressed(daemon.storeDir, "ca-unsigned", "no signature needed\n");
    await addToStoreNar(client, info, nar);
    expect((await queryInfo(client, info.path)).ca).toBe(info.ca);
    client.close();
  });

  test("repair rewrites a damaged object", async () => {
    const client = await connect();
    const nar = fileNar("to be repaired\n");
    const info = inputAddressed(daemon.storeDir, "repairable", nar);
    await addToStoreNar(client, info, nar, { dontCheckSigs: true });
    const real = join(daemon.storeDir, info.path.split("/").pop()!);
    chmodSync(real, 0o644);
    writeFileSync(real, "damaged\n");
    await addToStoreNar(client, info, nar, { dontCheckSigs: true });
    expect(readFileSync(real, "utf8")).toBe("damaged\n");
    await addToStoreNar(client, info, nar, { dontCheckSigs: true, repair: true });
    expect(readFileSync(real, "utf8")).toBe("to be repaired\n");
    const verify = runOk(["nix-store", "--verify-path", info.path], { env: daemon.localEnv() });
    expect(verify.toString()).toBe("");
    client.close();
  });
});

describe("bad input is refused cleanly", () => {
  const nar = fileNar("some contents\n");
  const badPadding = Buffer.from(nar);
  badPadding[8 + 13] = 1; // inside the padding of "nix-archive-1"
  const garbage = Buffer.from([...Array(200)].map((_, i) => (i * 37) & 0xff));
  const cases: Array<[string, (info: NarInfo) => NarInfo, Uint8Array, RegExp]> = [
    ["a NAR whose hash is not the one announced", (i) => ({ ...i, narHash: hashBytes("sha256", "other") }), nar, /hash mismatch importing path '.*';\n\s+specified: sha256:.*\n\s+got: {7}sha256:/],
    ["a wrong narSize", (i) => ({ ...i, narSize: i.narSize + 8 }), nar, /size mismatch importing path '.*';\n\s+specified: \d+\n\s+got: {7}\d+/],
    ["garbage instead of a NAR", (i) => i, garbage, /bad NAR at byte 0/],
    ["non-zero padding", (i) => i, badPadding, /bad NAR at byte 21: .*padding/],
    ["a NAR cut short", (i) => i, nar.subarray(0, 60), /truncated|unexpected end/],
    ["data after the NAR", (i) => i, Buffer.concat([nar, Buffer.alloc(8, 1)]), /trailing data after the end of the archive/],
  ];
  for (const [label, version] of [["framed", undefined], ["STDERR_READ", V122]] as const) {
    for (const [title, change, sent, message] of cases) {
      if (version !== undefined && title === "data after the NAR") continue; // only framing can tell
      test(`${label}: ${title}`, async () => {
        const client = await connect(version);
        const info = change(inputAddressed(daemon.storeDir, "bad", nar));
        const failure = await addToStoreNar(client, info, sent, { dontCheckSigs: true }).catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(RemoteError);
        expect(plain((failure as Error).message)).toMatch(message);
        // The same connection goes on; nothing was registered or left behind.
        expect(await isValid(client, info.path)).toBe(false);
        expect(stagingLeftovers(daemon.storeDir)).toEqual([]);
        client.close();
        await expectServing();
      });
    }
  }

  test("inline (1.20): a malformed NAR is reported, then that connection ends", async () => {
    const client = await connect(V120);
    const info = inputAddressed(daemon.storeDir, "bad-inline", nar);
    const failure = await addToStoreNar(client, info, badPadding, { dontCheckSigs: true }).catch((e: unknown) => e);
    expect((failure as Error).message).toMatch(/padding/);
    await expect(isValid(client, info.path)).rejects.toThrow();
    client.close();
    expect(stagingLeftovers(daemon.storeDir)).toEqual([]);
    await expectServing();
  });

  test("inline (1.20): a refusal before the NAR is read skips it, and the connection goes on", async () => {
    const client = await connect(V120);
    const info = inputAddressed(daemon.storeDir, "unsigned-inline", nar);
    await expect(addToStoreNar(client, info, nar)).rejects.toThrow("lacks a valid signature");
    expect(await isValid(client, info.path)).toBe(false);
    client.close();
  });

  test("a framed stream cut off by the client leaves nothing behind", async () => {
    const client = await connect();
    const big = fileNar(Buffer.alloc(1 << 20, 7));
    const info = inputAddressed(daemon.storeDir, "cut-off", big);
    client.writer.u64(Op.AddToStoreNar).latin1(info.path);
    writeInfoFields(client.writer, info);
    client.writer.bool(false).bool(true);
    const frames = frame(big, 64 << 10);
    for (const piece of frames.slice(0, 8)) client.writer.raw(piece);
    await client.send();
    await Bun.sleep(200);
    client.close();
    await Bun.sleep(200);
    expect(stagingLeftovers(daemon.storeDir)).toEqual([]);
    const other = await connect();
    expect(await isValid(other, info.path)).toBe(false);
    other.close();
  });

  test("a reference that is not valid refuses the path", async () => {
    const client = await connect();
    const missing = inputAddressed(daemon.storeDir, "missing", nar).path;
    const info = inputAddressed(daemon.storeDir, "dangling-ref", nar, [missing]);
    await expect(addToStoreNar(client, info, nar, { dontCheckSigs: true })).rejects.toThrow(/references path '.*-missing', which is not valid/);
    expect(await isValid(client, info.path)).toBe(false);
    expect(stagingLeftovers(daemon.storeDir)).toEqual([]);
    client.close();
  });

  test("a content address that does not give the path, or does not match the contents", async () => {
    const client = await connect();
    const ca = contentAddressed(daemon.storeDir, "claims", "claimed contents\n");
    const other = inputAddressed(daemon.storeDir, "claims", ca.nar);
    await expect(addToStoreNar(client, { ...ca.info, path: other.path }, ca.nar, { dontCheckSigs: true })).rejects.toThrow("claims to be content-addressed but isn't");
    const wrong = fileNar("other contents\n");
    const mismatch = { ...ca.info, narHash: hashBytes("sha256", wrong), narSize: wrong.length };
    await expect(addToStoreNar(client, mismatch, wrong, { dontCheckSigs: true })).rejects.toThrow(/ca hash mismatch importing path/);
    expect(await isValid(client, ca.info.path)).toBe(false);
    client.close();
  });
});

describe("the other add operations, raw", () => {
  test("AddToStore (1.25+) with an unknown method is refused after its frames; the connection goes on", async () => {
    const client = await connect();
    client.writer.u64(Op.AddToStore).latin1("x").latin1("fixed:whirlpool").latin1List([]).bool(false);
    for (const piece of frame(Buffer.from("data"))) client.writer.raw(piece);
    await client.send();
    await expect(client.readStderr()).rejects.toThrow(/whirlpool/);
    expect(await isValid(client, `${daemon.storeDir}/00000000000000000000000000000000-x`)).toBe(false);
    client.close();
  });

  test("AddToStore (1.25+): text, flat and recursive give Nix's paths", async () => {
    const client = await connect();
    const add = async (name: string, method: string, data: Uint8Array, refs: string[] = []) => {
      const reader = await (async () => {
        client.writer.u64(Op.AddToStore).latin1(name).latin1(method).latin1Set(refs).bool(false);
        for (const piece of frame(data, 7)) client.writer.raw(piece);
        await client.send();
        await client.readStderr();
        return client.reader;
      })();
      const path = await reader.latin1("path");
      const info = await readPathInfo(reader, client.minor);
      return { path, info };
    };
    const text = await add("t.txt", "text:sha256", Buffer.from("text\n"));
    expect(text.info.ca).toStartWith("text:sha256:");
    const withRef = await add("u.txt", "text:sha256", Buffer.from(`uses ${text.path}\n`), [text.path]);
    expect(withRef.info.references).toEqual([text.path]);
    const flat = await add("f.txt", "fixed:sha1", Buffer.from("flat\n"));
    const rec = await add("r", "fixed:r:sha512", fileNar("recursive\n", true));
    const file = join(daemon.dir, "cmp");
    writeFileSync(file, "flat\n");
    const env = daemon.clientEnv({ NIX_REMOTE: "" });
    expect(flat.path).toBe(runOk(["nix-store", "--print-fixed-path", "sha1", hashBytes("sha1", "flat\n").base16, "f.txt"], { env }).toString().trim());
    const narSha512 = hashBytes("sha512", fileNar("recursive\n", true)).base16;
    expect(rec.path).toBe(runOk(["nix-store", "--print-fixed-path", "--recursive", "sha512", narSha512, "r"], { env }).toString().trim());
    client.close();
  });

  test("AddToStore (< 1.25): flat and recursive from an inline NAR", async () => {
    const client = await connect(V124);
    const add = async (name: string, fixed: boolean, recursive: boolean, algo: string, nar: Uint8Array) =>
      (await client.op(Op.AddToStore, (w) => w.latin1(name).bool(fixed).u64(recursive ? 1 : 0).latin1(algo).raw(nar))).latin1("path");
    const flat = await add("old-flat", true, false, "sha1", fileNar("old flat\n", true));
    const env = daemon.clientEnv({ NIX_REMOTE: "" });
    expect(flat).toBe(runOk(["nix-store", "--print-fixed-path", "sha1", hashBytes("sha1", "old flat\n").base16, "old-flat"], { env }).toString().trim());
    const rec = await add("old-rec", false, false, "md5", fileNar("old rec\n"));
    expect(rec).toBe(runOk(["nix-store", "--print-fixed-path", "--recursive", "sha256", hashBytes("sha256", fileNar("old rec\n")).base16, "old-rec"], { env }).toString().trim());
    // A flat add whose NAR is not one regular file: reported, and that connection ends.
    const dirNar = Buffer.concat([Buffer.from(fileNar("x").subarray(0, 48)), Buffer.from("directory")]);
    await expect(add("old-dir", true, false, "sha256", dirNar)).rejects.toThrow();
    client.close();
    await expectServing();
  });

  test("AddTextToStore", async () => {
    const client = await connect(V124);
    const path = await (await client.op(Op.AddTextToStore, (w) => w.latin1("hello.txt").latin1("hello\n").latin1List([]))).latin1("path");
    const env = daemon.clientEnv({ NIX_REMOTE: "" });
    const expected = runOk(["nix-instantiate", "--eval", "--read-write-mode", "--store", join(daemon.dir, "oracle"), "-E", 'builtins.toFile "hello.txt" "hello\\n"'], { env }).toString().trim();
    expect(`"${path}"`).toBe(expected);
    client.close();
  });

  test("AddMultipleToStore: several paths with references, already-valid ones skipped", async () => {
    const client = await connect();
    const base = contentAddressed(daemon.storeDir, "multi-base", "base\n");
    const midNar = fileNar(`mid -> ${base.info.path}\n`);
    const mid = inputAddressed(daemon.storeDir, "multi-mid", midNar, [base.info.path]);
    const topNar = fileNar(`top -> ${mid.path}\n`);
    const top = inputAddressed(daemon.storeDir, "multi-top", topNar, [mid.path, base.info.path]);
    const payload = (entries: Array<[NarInfo, Uint8Array]>) => {
      const w = new WireWriter();
      w.u64(entries.length);
      for (const [info, nar] of entries) {
        w.latin1(info.path);
        writeInfoFields(w, { ...info, ultimate: true });
        w.raw(nar);
      }
      return w.take();
    };
    const send = async (entries: Array<[NarInfo, Uint8Array]>) => {
      client.writer.u64(Op.AddMultipleToStore).bool(false).bool(true);
      for (const piece of frame(payload(entries), 1000)) client.writer.raw(piece);
      await client.send();
      await client.readStderr();
    };
    await send([[base.info, base.nar]]);
    await send([[base.info, base.nar], [mid, midNar], [top, topNar]]);
    for (const info of [base.info, mid, top]) {
      const got = await queryInfo(client, info.path);
      expect(got.references).toEqual([...info.references].sort());
      expect(got.ultimate).toBe(false);
    }
    client.close();
  });
});

describe("the same refusals as real nix-daemon", () => {
  test("hash, size and content-address mismatches and missing signatures give Nix's messages, colours included", async () => {
    const real = await startDaemon("nix");
    try {
      const nar = fileNar("compared with nix-daemon\n");
      const messages = async (target: TestDaemon) => {
        const client = await WorkerClient.connect(target.socket);
        await client.setOptions();
        const base = inputAddressed(target.storeDir, "compared", nar);
        const ca = contentAddressed(target.storeDir, "compared-ca", "ca contents\n");
        const attempts: Array<[NarInfo, Uint8Array, boolean]> = [
          [{ ...base, narHash: hashBytes("sha256", "other") }, nar, true],
          [{ ...base, narSize: nar.length - 8 }, nar, true],
          [{ ...ca.info, narHash: hashBytes("sha256", nar), narSize: nar.length }, nar, true],
          [base, nar, false],
        ];
        const out: string[] = [];
        for (const [info, sent, dontCheckSigs] of attempts) {
          const failure = await addToStoreNar(client, info, sent, { dontCheckSigs }).catch((e: Error) => e);
          out.push(String((failure as Error).message).replaceAll(target.storeDir, "<store>").replace(/-compared[^'\x1b]*/, ""));
          expect(await isValid(client, info.path)).toBe(false);
        }
        client.close();
        return out.map((m) => m.replace(/<store>\/[a-z0-9]{32}/g, "<path>"));
      };
      expect(await messages(daemon)).toEqual(await messages(real));
    } finally {
      await real.stop();
    }
  });
});
