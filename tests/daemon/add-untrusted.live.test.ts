/**
 * What an untrusted client (here: `nobody`, through setpriv) may add
 * (worker-protocol.md 7.3): input-addressed paths only with a signature by
 * a key in the daemon's trusted-public-keys, content-addressed paths
 * always; dontCheckSigs and ultimate are ignored; signatures, logs and
 * import streams are refused. Keys come from `nix key generate-secret`,
 * signatures from bunix's signer and from real `nix copy` of a signed
 * binary cache.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkerClient } from "../../internal/daemon/client.ts";
import { parseHash } from "../../internal/hash/hash.ts";
import { parseSecretKey, pathFingerprint, signFingerprint } from "../../internal/store/signatures.ts";
import { frame } from "../../internal/wire/framed.ts";
import { Op } from "../../internal/wire/worker-protocol.ts";
import { readPathInfo } from "../../internal/wire/worker-types.ts";
import { WireWriter } from "../../internal/wire/writer.ts";
import { PROJECT, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { type NarInfo, contentAddressed, fileNar, inputAddressed, stagingLeftovers, writeInfoFields } from "./nar-support.ts";
import { DEFAULT_NIX_CONF, type TestDaemon, startDaemon } from "./support.ts";

const NOBODY = 65534;
let dir: string;
let daemon: TestDaemon;
let secretKey: string;
let publicKey: string;
let otherSecretKey: string;

beforeAll(async () => {
  requireNix();
  dir = scratchDir("untrusted");
  chmodSync(dir, 0o755); // nobody reaches the socket and the store through it
  const env = nixEnv();
  secretKey = runOk(["nix", "key", "generate-secret", "--key-name", "bunix-test-1"], { env }).toString();
  publicKey = runOk(["nix", "key", "convert-secret-to-public"], { env, stdin: secretKey }).toString();
  otherSecretKey = runOk(["nix", "key", "generate-secret", "--key-name", "bunix-test-1"], { env }).toString();
  const daemonDir = join(dir, "daemon");
  mkdirSync(daemonDir, { mode: 0o755 });
  daemon = await startDaemon("bunix", { dir: daemonDir, nixConf: `${DEFAULT_NIX_CONF}trusted-public-keys = ${publicKey}\n` });
});

afterAll(async () => {
  await daemon?.stop();
});

interface Outcome {
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** Runs requests over one connection made by `nobody`. */
function asNobody(requests: Array<{ bytes: Uint8Array; reply?: "none" | "u64" | "paths"; feed?: Uint8Array }>): Outcome[] {
  const input = JSON.stringify({
    socket: daemon.socket,
    requests: requests.map((r) => ({ bytes: Buffer.from(r.bytes).toString("hex"), reply: r.reply ?? "none", feed: r.feed ? Buffer.from(r.feed).toString("hex") : undefined })),
  });
  const result = Bun.spawnSync(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", process.execPath, join(PROJECT, "tests/daemon/untrusted-client.ts")], {
    stdin: Buffer.from(input),
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  if (result.exitCode !== 0) throw new Error(`the untrusted client failed: ${result.stderr.toString()}`);
  return JSON.parse(result.stdout.toString()) as Outcome[];
}

function addToStoreNarBytes(info: NarInfo, nar: Uint8Array, dontCheckSigs = true): Uint8Array {
  const w = new WireWriter();
  w.u64(Op.AddToStoreNar).latin1(info.path);
  writeInfoFields(w, info);
  w.bool(false).bool(dontCheckSigs);
  for (const piece of frame(nar)) w.raw(piece);
  return w.take();
}

function isValidBytes(path: string): Uint8Array {
  return new WireWriter().u64(Op.IsValidPath).latin1(path).take();
}

function sign(info: NarInfo, key = secretKey): string {
  return signFingerprint(parseSecretKey(key), pathFingerprint(info.path, info.narHash, info.narSize, info.references));
}

async function queryAsRoot(path: string) {
  const client = await WorkerClient.connect(daemon.socket);
  await client.setOptions();
  const reader = await client.op(Op.QueryPathInfo, (w) => w.latin1(path));
  const valid = await reader.bool("valid");
  const info = valid ? await readPathInfo(reader, client.minor) : undefined;
  client.close();
  return info;
}

describe("AddToStoreNar from an untrusted client", () => {
  const nar = fileNar("from an untrusted client\n");

  test("an unsigned input-addressed path is refused, dontCheckSigs notwithstanding", async () => {
    const info = inputAddressed(daemon.storeDir, "unsigned", nar);
    const [outcome, after] = asNobody([{ bytes: addToStoreNarBytes(info, nar, true) }, { bytes: isValidBytes(info.path), reply: "u64" }]);
    expect(outcome!.error).toBe(`cannot add path '\x1b[35;1m${info.path}\x1b[0m' because it lacks a valid signature`);
    expect(after).toEqual({ ok: true, value: 0 }); // the frames were drained: the connection goes on
    expect(await queryAsRoot(info.path)).toBeUndefined();
  });

  test("a content-addressed path is accepted without a signature", async () => {
    const { info, nar: caNar } = contentAddressed(daemon.storeDir, "ca-from-nobody", "content-addressed\n");
    expect(asNobody([{ bytes: addToStoreNarBytes(info, caNar, false) }])).toEqual([{ ok: true }]);
    expect((await queryAsRoot(info.path))?.ca).toBe(info.ca);
  });

  test("a path signed by a trusted key is accepted, but never as ultimate", async () => {
    const base = inputAddressed(daemon.storeDir, "signed", nar);
    const info = { ...base, ultimate: true, sigs: [sign(base)] };
    expect(asNobody([{ bytes: addToStoreNarBytes(info, nar, false) }])).toEqual([{ ok: true }]);
    const got = await queryAsRoot(info.path);
    expect(got?.sigs).toEqual(info.sigs);
    expect(got?.ultimate).toBe(false);
  });

  test("a signature by an unknown key, or over other contents, is not enough", async () => {
    const base = inputAddressed(daemon.storeDir, "badly-signed", nar);
    const otherKey = { ...base, sigs: [sign(base, otherSecretKey)] };
    const wrongPath = { ...base, sigs: [sign({ ...base, path: inputAddressed(daemon.storeDir, "elsewhere", nar).path })] };
    const outcomes = asNobody([{ bytes: addToStoreNarBytes(otherKey, nar) }, { bytes: addToStoreNarBytes(wrongPath, nar) }]);
    for (const outcome of outcomes) expect(outcome.error).toContain("lacks a valid signature");
    expect(await queryAsRoot(base.path)).toBeUndefined();
  });

  test("AddMultipleToStore checks every path's signature", async () => {
    const { info: ca, nar: caNar } = contentAddressed(daemon.storeDir, "multi-ca", "fine\n");
    const unsigned = inputAddressed(daemon.storeDir, "multi-unsigned", nar);
    const payload = new WireWriter().u64(2);
    for (const [info, bytes] of [[ca, caNar], [unsigned, nar]] as const) {
      payload.latin1(info.path);
      writeInfoFields(payload, info);
      payload.raw(bytes);
    }
    const request = new WireWriter().u64(Op.AddMultipleToStore).bool(false).bool(true);
    for (const piece of frame(payload.take())) request.raw(piece);
    const [outcome] = asNobody([{ bytes: request.take() }]);
    expect(outcome!.error).toContain("lacks a valid signature");
    expect(await queryAsRoot(ca.path)).toBeDefined(); // added before the refusal, as by Nix
    expect(await queryAsRoot(unsigned.path)).toBeUndefined();
    expect(stagingLeftovers(daemon.storeDir)).toEqual([]);
  });

  test("ImportPaths, AddSignatures and AddBuildLog are refused; the connection goes on", async () => {
    const dep = inputAddressed(daemon.storeDir, "imported", nar);
    const exportStream = new WireWriter().u64(1).raw(nar).u64(0x4558494e).latin1(dep.path).u64(0).latin1("").u64(0).u64(0).take();
    const log = new WireWriter().u64(Op.AddBuildLog).latin1("0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-x.drv");
    for (const piece of frame(Buffer.from("a log\n"))) log.raw(piece);
    const outcomes = asNobody([
      { bytes: new WireWriter().u64(Op.ImportPaths).take(), feed: exportStream, reply: "paths" },
      { bytes: new WireWriter().u64(Op.AddSignatures).latin1(dep.path).latin1List(["k:c2ln"]).take(), reply: "u64" },
      { bytes: log.take(), reply: "u64" },
      { bytes: isValidBytes(dep.path), reply: "u64" },
    ]);
    expect(outcomes[0]!.error).toContain("lacks a valid signature");
    expect(outcomes[1]!.error).toBe("you are not privileged to add signatures");
    expect(outcomes[2]!.error).toBe("you are not privileged to add logs");
    expect(outcomes[3]).toEqual({ ok: true, value: 0 });
  });
});

describe("real nix copy as an untrusted user", () => {
  test("copies a signed path from a binary cache; an unsigned one is refused", () => {
    const env = daemon.clientEnv({ NIX_REMOTE: "" });
    const local = join(dir, "local");
    writeFileSync(join(dir, "keyfile"), secretKey);
    const paths: string[] = [];
    for (const name of ["signed-a", "signed-b"]) {
      // nix-store --add makes content-addressed paths; these are made input-addressed for the test by a build.
      paths.push(runOk(["nix-build", "--store", local, "--no-out-link", "-E", `derivation { name = "${name}"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo ${name} > $out" ]; }`], { env }).toString().trim());
    }
    const cache = join(dir, "cache");
    runOk(["nix", "store", "sign", "--store", `local?root=${local}`, "--key-file", join(dir, "keyfile"), paths[0]!], { env });
    runOk(["nix", "copy", "--no-check-sigs", "--from", `local?root=${local}`, "--to", `file://${cache}?compression=none`, ...paths], { env });
    for (const entry of [cache, join(dir, "nobody-home")]) {
      mkdirSync(entry, { recursive: true });
      chmodSync(entry, 0o755);
    }
    mkdirSync(join(dir, "nobody-home/conf"));
    writeFileSync(join(dir, "nobody-home/conf/nix.conf"), "experimental-features = nix-command\n");
    run(["chown", "-R", `${NOBODY}:${NOBODY}`, join(dir, "nobody-home")]);
    run(["chmod", "-R", "a+rX", cache]);
    const home = join(dir, "nobody-home");
    const nobodyEnv = daemon.clientEnv({ HOME: home, XDG_CACHE_HOME: join(home, "cache"), XDG_CONFIG_HOME: join(home, "config"), NIX_CONF_DIR: join(home, "conf") });
    const asNobodyNix = (path: string) =>
      run(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", "nix", "copy", "--from", `file://${cache}`, "--to", `unix://${daemon.socket}`, path], { env: nobodyEnv });
    const signed = asNobodyNix(paths[0]!);
    expect(signed.stderr).not.toContain("error");
    expect(signed.code).toBe(0);
    const unsigned = asNobodyNix(paths[1]!);
    expect(unsigned.code).not.toBe(0);
    expect(unsigned.stderr).toContain("lacks a valid signature");
    const verify = run(["nix-store", "--verify-path", paths[0]!], { env: daemon.localEnv() });
    expect(verify.code).toBe(0);
    expect(parseHash(JSON.parse(runOk(["nix", "path-info", "--json", paths[0]!], { env: daemon.localEnv() }).toString())[0].narHash).algorithm).toBe("sha256");
  });
});
