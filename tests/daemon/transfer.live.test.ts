/**
 * Copying paths in and out through bunix's daemon with real Nix 2.8:
 * `nix copy --to unix://` (AddMultipleToStore) from a local store with
 * built, text and source paths and their references, `nix copy --from
 * unix://`, `nix-store --export | nix-store --import` between two daemons,
 * and raw ImportPaths, ExportPath, NarFromPath, AddBuildLog and
 * AddSignatures, with real nix-daemon's answers where behaviour is in doubt.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RemoteError, WorkerClient } from "../../internal/daemon/client.ts";
import { frame } from "../../internal/wire/framed.ts";
import { Op } from "../../internal/wire/worker-protocol.ts";
import { readPathInfo } from "../../internal/wire/worker-types.ts";
import { requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { stagingLeftovers } from "./nar-support.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

let daemon: TestDaemon;
let second: TestDaemon;
let dir: string;
/** A local store (real Nix, chroot) with the daemon's logical store dir: the source of copies. */
let source: string;
/** attr -> path in `source`. */
const paths: Record<string, string> = {};

const EXPR = String.raw`
let
  mk = name: args: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" args ]; };
in rec {
  dep = mk "dep" "echo dep > $out";
  tree = mk "tree" "mkdir -p $out/bin $out/share; echo ${"$"}{dep} > $out/share/ref; printf '#!/bin/sh\n' > $out/bin/run; chmod +x $out/bin/run; ln -s ../share/ref $out/link";
  top = mk "top" "echo ${"$"}{tree} ${"$"}{dep} > $out";
  text = builtins.toFile "text.txt" "plain text\n";
  textRef = builtins.toFile "text-ref.txt" "refers to ${"$"}{text}\n";
}
`;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon();
  dir = scratchDir("daemon-transfer");
  // Same logical store dir as the first daemon (paths move between them), objects elsewhere.
  second = await startDaemon("bunix", { args: ["--store", `local?root=${join(dir, "second")}&store=${daemon.storeDir}`] });
  source = join(dir, "source");
  writeFileSync(join(dir, "paths.nix"), EXPR);
  const env = daemon.clientEnv({ NIX_REMOTE: "" });
  const built = runOk(["nix-build", "--store", source, "--no-out-link", join(dir, "paths.nix"), "-A", "top"], { env }).toString().trim();
  paths.top = built;
  for (const attr of ["dep", "tree", "text", "textRef"]) {
    const value = runOk(["nix-instantiate", "--store", source, "--eval", "--read-write-mode", "-E", `(import ${join(dir, "paths.nix")}).${attr}.outPath or (import ${join(dir, "paths.nix")}).${attr}`], { env });
    paths[attr] = JSON.parse(value.toString());
  }
  writeFileSync(join(dir, "added.txt"), "added with nix-store --add\n");
  paths.added = runOk(["nix-store", "--store", source, "--add", join(dir, "added.txt")], { env }).toString().trim();
});

afterAll(async () => {
  await daemon?.stop();
  await second?.stop();
});

/**
 * `nix path-info --json --recursive`, sorted. Copies never carry `ultimate`
 * (the daemon clears it, as nix-daemon does), so it is left out.
 */
function pathInfoJson(env: Record<string, string>, store: string | undefined, ps: string[]): unknown {
  const argv = ["nix", "path-info", "--json", "--recursive", ...(store ? ["--store", store] : []), ...ps];
  const infos = JSON.parse(runOk(argv, { env }).toString()) as Array<Record<string, unknown>>;
  for (const info of infos) delete info.ultimate;
  return infos.sort((a, b) => String(a.path).localeCompare(String(b.path)));
}

describe("nix copy", () => {
  test("--to unix:// of unsigned input-addressed paths is refused, as by real nix-daemon", async () => {
    const args = ["nix", "copy", "--from", `local?root=${source}`, paths.dep!];
    const ours = run([...args, "--to", `unix://${daemon.socket}`], { env: daemon.clientEnv() });
    const real = await startDaemon("nix", { args: ["--store", `local?root=${join(dir, "real")}`], env: { NIX_STORE_DIR: daemon.storeDir } });
    try {
      const theirs = run([...args, "--to", `unix://${real.socket}`], { env: daemon.clientEnv() });
      expect(theirs.code).not.toBe(0);
      expect(theirs.stderr).toContain("lacks a valid signature");
    } finally {
      await real.stop();
    }
    expect(ours.code).not.toBe(0);
    expect(ours.stderr).toContain("lacks a valid signature");
    expect(stagingLeftovers(daemon.storeDir)).toEqual([]);
  });

  test("--to unix:// copies closures with references (AddMultipleToStore)", () => {
    const all = [paths.top!, paths.textRef!, paths.added!];
    runOk(["nix", "copy", "--no-check-sigs", "--from", `local?root=${source}`, "--to", `unix://${daemon.socket}`, ...all], { env: daemon.clientEnv() });
    const local = pathInfoJson(daemon.clientEnv({ NIX_REMOTE: "" }), `local?root=${source}`, all);
    const copied = pathInfoJson(daemon.localEnv(), undefined, all);
    expect(copied).toEqual(local);
    const verify = run(["nix-store", "--verify", "--check-contents"], { env: daemon.localEnv() });
    expect(verify.code).toBe(0);
    expect(verify.stderr).not.toMatch(/error|warning|modified/i);
  });

  test("--from unix:// into a local store", () => {
    const target = join(dir, "target");
    runOk(["nix", "copy", "--no-check-sigs", "--from", `unix://${daemon.socket}`, "--to", `local?root=${target}`, paths.top!, paths.textRef!], { env: daemon.clientEnv() });
    const got = pathInfoJson(daemon.clientEnv({ NIX_REMOTE: "" }), `local?root=${target}`, [paths.top!, paths.textRef!]);
    expect(got).toEqual(pathInfoJson(daemon.localEnv(), undefined, [paths.top!, paths.textRef!]));
  });

  test("nix-store --export through one daemon | nix-store --import through another", () => {
    const exported = runOk(["nix-store", "--export", paths.top!, paths.tree!, paths.dep!], { env: daemon.clientEnv() });
    const imported = runOk(["nix-store", "--import"], { env: second.clientEnv({ NIX_STORE_DIR: daemon.storeDir, NIX_REMOTE: `unix://${second.socket}` }), stdin: exported });
    expect(imported.toString().trim().split("\n").sort()).toEqual([paths.dep!, paths.tree!, paths.top!].sort());
  });
});

/** A raw connection to the first daemon. */
async function connect(version?: number): Promise<WorkerClient> {
  const client = await WorkerClient.connect(daemon.socket, version);
  await client.setOptions();
  return client;
}

describe("raw transfer operations", () => {
  test("NarFromPath sends the NAR nix-store --dump makes; an invalid path is a clean error", async () => {
    const client = await connect();
    for (const p of [paths.tree!, paths.added!]) {
      client.writer.u64(Op.NarFromPath).latin1(p);
      await client.send();
      await client.readStderr();
      const expected = runOk(["nix-store", "--dump", p], { env: daemon.localEnv() });
      const got = await client.reader.source.readExact(expected.length);
      expect(Buffer.from(got).equals(expected)).toBe(true);
    }
    client.writer.u64(Op.NarFromPath).latin1(`${daemon.storeDir}/00000000000000000000000000000000-gone`);
    await client.send();
    await expect(client.readStderr()).rejects.toThrow("is not valid");
    expect(await (await client.op(Op.IsValidPath, (w) => w.latin1(paths.tree!))).bool("valid")).toBe(true);
    client.close();
  });

  test("ExportPath sends one export record in STDERR_WRITE chunks", async () => {
    const client = await connect();
    const reader = await client.op(Op.ExportPath, (w) => w.latin1(paths.textRef!).u64(0));
    expect(await reader.u64("result")).toBe(1);
    const data = Buffer.concat(client.messages.flatMap((m) => (m.kind === "write" ? [m.data] : [])));
    const whole = runOk(["nix-store", "--export", paths.textRef!], { env: daemon.localEnv() });
    // nix-store --export adds u64(1) before the record and u64(0) after it.
    expect(data.equals(whole.subarray(8, whole.length - 8))).toBe(true);
    client.close();
  });

  test("ImportPaths pulls an export stream with STDERR_READ; a malformed stream is reported", async () => {
    const stream = runOk(["nix-store", "--store", source, "--export", paths.dep!, paths.text!], { env: daemon.clientEnv({ NIX_REMOTE: "" }) });
    const feed = (bytes: Uint8Array) => {
      let offset = 0;
      return async (count: number) => {
        const piece = bytes.subarray(offset, offset + count);
        offset += piece.length;
        client.writer.bytes(piece);
        await client.send();
      };
    };
    const client = await WorkerClient.connect(second.socket);
    await client.setOptions();
    const reader = await client.op(Op.ImportPaths, () => {}, feed(stream));
    expect(await reader.latin1List("paths")).toEqual([paths.dep!, paths.text!].sort((a, b) => (stream.indexOf(a) < stream.indexOf(b) ? -1 : 1)));
    const broken = Buffer.from(stream);
    broken.writeUInt32LE(0xdead, stream.indexOf(Buffer.from("NIXE")));
    const failure = await client.op(Op.ImportPaths, () => {}, feed(broken.subarray(0, 200))).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RemoteError);
    expect(await (await client.op(Op.IsValidPath, (w) => w.latin1(paths.dep!))).bool("valid")).toBe(true);
    client.close();
  });

  test("AddBuildLog (trusted) writes the log nix-store -l shows", async () => {
    const client = await connect();
    const drv = `${daemon.storeDir}/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-logged.drv`;
    client.writer.u64(Op.AddBuildLog).latin1(drv.split("/").pop()!);
    for (const piece of frame(Buffer.from("first line\nsecond line\n"), 5)) client.writer.raw(piece);
    await client.send();
    await client.readStderr();
    expect(await client.reader.u64("result")).toBe(1);
    expect(runOk(["nix-store", "-l", drv], { env: daemon.localEnv() }).toString()).toBe("first line\nsecond line\n");
    // Not a derivation: refused after the frames; the connection goes on.
    client.writer.u64(Op.AddBuildLog).latin1("0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-plain");
    for (const piece of frame(Buffer.from("x"))) client.writer.raw(piece);
    await client.send();
    await expect(client.readStderr()).rejects.toThrow("not a derivation");
    expect(await (await client.op(Op.IsValidPath, (w) => w.latin1(paths.tree!))).bool("valid")).toBe(true);
    client.close();
  });

  test("AddSignatures adds to a valid path's set; an invalid path is an error, not a crash", async () => {
    const client = await connect();
    const sigs = ["test-b:YmJi", "test-a:YWFh"];
    expect(await (await client.op(Op.AddSignatures, (w) => w.latin1(paths.added!).latin1List(sigs))).u64("result")).toBe(1);
    expect(await (await client.op(Op.AddSignatures, (w) => w.latin1(paths.added!).latin1List(["test-a:YWFh"]))).u64("result")).toBe(1);
    const reader = await client.op(Op.QueryPathInfo, (w) => w.latin1(paths.added!));
    expect(await reader.bool("valid")).toBe(true);
    expect((await readPathInfo(reader, client.minor)).sigs).toEqual(["test-a:YWFh", "test-b:YmJi"]);
    await expect(client.op(Op.AddSignatures, (w) => w.latin1(`${daemon.storeDir}/00000000000000000000000000000000-gone`).latin1List(sigs))).rejects.toThrow("is not valid");
    expect(await (await client.op(Op.IsValidPath, (w) => w.latin1(paths.added!))).bool("valid")).toBe(true);
    client.close();
  });

  test("nothing was left in staging", () => {
    expect(stagingLeftovers(daemon.storeDir)).toEqual([]);
    expect(existsSync(join(daemon.logDir, "drvs/0a/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-logged.drv"))).toBe(true);
    expect(readFileSync(join(daemon.logDir, "drvs/0a/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-logged.drv"), "utf8")).toContain("second line");
  });
});
