/**
 * `bunix daemon --stdio` and the `nix-daemon --stdio` alias: one trusted
 * connection on stdin/stdout (worker-protocol.md 1.2), as `ssh-ng://` runs
 * it. Real Nix clients reach it through a fake `ssh` early in PATH that runs
 * the remote command locally, side by side with real `nix-daemon --stdio`.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { DEFAULT_NIX_CONF } from "./support.ts";
import { loadVector } from "./vectors.ts";

// Real Nix clients and daemons on a shared machine: seconds each, more under load.
setDefaultTimeout(60_000);

type Kind = "bunix" | "nix";

interface StdioStore {
  kind: Kind;
  dir: string;
  storeDir: string;
  /** Environment of the client and, through the fake ssh, of the remote daemon. */
  env: Record<string, string>;
  /** The ssh-ng store URL whose remote program is this kind's nix-daemon. */
  url: string;
  /** Environment for opening the store directly. */
  localEnv: Record<string, string>;
}

let binDir: string;
const stores: Partial<Record<Kind, StdioStore>> = {};

/** A fake ssh: records its arguments and runs the last one (the remote command) with sh. */
function fakeSsh(dir: string): void {
  const script = `#!/bin/sh\nprintf '%s\\n' "$*" >> ${join(dir, "ssh-argv.log")}\nfor last; do :; done\nexec sh -c "$last"\n`;
  writeFileSync(join(dir, "ssh"), script);
  chmodSync(join(dir, "ssh"), 0o755);
}

function makeStore(kind: Kind, root: string): StdioStore {
  const dir = join(root, kind);
  const confDir = join(dir, "conf");
  mkdirSync(confDir, { recursive: true });
  mkdirSync(join(dir, "state"), { recursive: true });
  writeFileSync(join(confDir, "nix.conf"), DEFAULT_NIX_CONF);
  const storeEnv = { NIX_STORE_DIR: join(dir, "store"), NIX_STATE_DIR: join(dir, "state"), NIX_LOG_DIR: join(dir, "log"), NIX_CONF_DIR: confDir };
  const program = kind === "bunix" ? join(binDir, "nix-daemon") : "/usr/bin/nix-daemon";
  return {
    kind,
    dir,
    storeDir: storeEnv.NIX_STORE_DIR,
    env: nixEnv({ ...storeEnv, PATH: `${binDir}:${process.env.PATH ?? "/usr/bin:/bin"}` }),
    url: `ssh-ng://fakehost?remote-program=${program}`,
    localEnv: nixEnv(storeEnv),
  };
}

beforeAll(() => {
  requireNix();
  const root = scratchDir("stdio");
  binDir = join(root, "bin");
  mkdirSync(binDir);
  fakeSsh(binDir);
  symlinkSync(bunixBinary(), join(binDir, "nix-daemon"));
  stores.bunix = makeStore("bunix", root);
  stores.nix = makeStore("nix", root);
});


/** Runs the daemon on a pipe with `input` as everything the client says; returns what it wrote. */
async function converse(argv: string[], env: Record<string, string>, input: Uint8Array): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const proc = Bun.spawn(argv, { env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  proc.stdin.write(input);
  await proc.stdin.end();
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(stdout), stderr };
}

describe("the --stdio handshake", () => {
  const vector = () => loadVector("ssh-ng-stdio-ping");

  test("bunix daemon --stdio answers as in vector ssh-ng-stdio-ping, then exits 0 at the end of input", async () => {
    const result = await converse([bunixBinary(), "daemon", "--stdio"], stores.bunix!.localEnv, vector().c2s);
    expect(result.stderr).toBe("");
    expect(result.stdout.toString("hex")).toBe(Buffer.from(vector().s2c).toString("hex"));
    expect(result.code).toBe(0);
  });

  test("nix-daemon --stdio (the alias) answers the same", async () => {
    const result = await converse([join(binDir, "nix-daemon"), "--stdio"], stores.bunix!.localEnv, vector().c2s);
    expect(result.stdout.toString("hex")).toBe(Buffer.from(vector().s2c).toString("hex"));
    expect(result.code).toBe(0);
  });

  test("a wrong magic ends the connection without a byte, as with real nix-daemon", async () => {
    const wrong = new Uint8Array(8).fill(7);
    const ours = await converse([bunixBinary(), "daemon", "--stdio"], stores.bunix!.localEnv, wrong);
    const theirs = await converse(["nix-daemon", "--stdio"], stores.nix!.localEnv, wrong);
    expect(ours.stdout.length).toBe(0);
    expect(theirs.stdout.length).toBe(0);
  });
});

describe("real Nix clients over ssh-ng:// (fake ssh)", () => {
  const both = (): StdioStore[] => [stores.bunix!, stores.nix!];

  test("nix store ping runs the remote program with --stdio and reports the version", () => {
    for (const store of both()) {
      const result = run(["nix", "store", "ping", "--store", store.url], { env: store.env });
      expect({ kind: store.kind, code: result.code, stderr: result.stderr }).toEqual({
        kind: store.kind,
        code: 0,
        stderr: "Store URL: ssh-ng://fakehost\nVersion: 2.8.0\n",
      });
    }
    const argv = readFileSync(join(binDir, "ssh-argv.log"), "utf8");
    expect(argv).toContain(`fakehost -x -a ${join(binDir, "nix-daemon")} --stdio\n`);
  });

  test("queries of a path added locally answer as the local store does, and as nix-daemon does", () => {
    const answers = both().map((store) => {
      const file = join(store.dir, "hello.txt");
      writeFileSync(file, "hello over ssh\n");
      const path = runOk(["nix-store", "--add", file], { env: store.localEnv }).toString().trim();
      const remote = (argv: string[]) => runOk([...argv, "--store", store.url], { env: store.env }).toString();
      const local = (argv: string[]) => runOk(argv, { env: store.localEnv }).toString();
      for (const query of [["--references"], ["--requisites"], ["--hash"], ["--size"], ["--deriver"]]) {
        expect(remote(["nix-store", "-q", ...query, path])).toBe(local(["nix-store", "-q", ...query, path]));
      }
      const info = JSON.parse(remote(["nix", "path-info", "--json", path]));
      expect(info).toEqual(JSON.parse(local(["nix", "path-info", "--json", path])));
      return { ...info[0], path: undefined, registrationTime: undefined };
    });
    expect(answers[0]).toEqual(answers[1]);
  });

  test("a missing path is reported alike", () => {
    const outputs = both().map((store) => {
      const missing = join(store.storeDir, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-missing");
      const result = run(["nix", "path-info", "--store", store.url, missing], { env: store.env });
      expect(result.code).toBe(1);
      return result.stderr.replaceAll(store.storeDir, "<store>");
    });
    expect(outputs[0]).toBe(outputs[1]!);
  });
});

describe("adding, copying and building over ssh-ng:// (fake ssh)", () => {
  const both = (): StdioStore[] => [stores.bunix!, stores.nix!];
  const valid = (store: StdioStore, path: string) => run(["nix-store", "--check-validity", path], { env: store.localEnv }).code === 0;

  test("nix-store --add goes through AddToStore and makes the path real Nix computes", () => {
    const paths = both().map((store) => {
      const file = join(store.dir, "added-over-ssh.txt");
      writeFileSync(file, "added over ssh\n");
      const path = runOk(["nix-store", "--store", store.url, "--add", file], { env: store.env }).toString().trim();
      expect(valid(store, path)).toBe(true);
      return path;
    });
    // The store dirs differ, so do the hashes; the paths must be what real nix-store --add computes locally.
    for (const [i, store] of both().entries()) {
      const file = join(store.dir, "added-over-ssh.txt");
      expect(runOk(["nix-store", "--add", file], { env: store.localEnv }).toString().trim()).toBe(paths[i]!);
    }
  });

  test("the peer is trusted: an unsigned input-addressed path is taken with --no-check-sigs, and refused without", () => {
    const outcomes = both().map((store) => {
      // An unsigned binary cache for this store dir, whose path has lost its content address.
      const cache = join(store.dir, "cache");
      const file = join(store.dir, "unsigned.txt");
      writeFileSync(file, "unsigned\n");
      const path = runOk(["nix-store", "--store", `file://${cache}`, "--add", file], { env: store.env }).toString().trim();
      const narinfo = join(cache, `${path.slice(store.storeDir.length + 1, store.storeDir.length + 33)}.narinfo`);
      writeFileSync(narinfo, readFileSync(narinfo, "utf8").replace(/^CA: .*\n/m, ""));
      const copy = (extra: string[]) => run(["nix", "copy", ...extra, "--from", `file://${cache}`, "--to", store.url, path], { env: store.env });
      const checked = copy([]);
      const unchecked = copy(["--no-check-sigs"]);
      const unsay = (text: string) => text.replaceAll(store.url, "<url>").replaceAll(path, "<path>").replaceAll(store.dir, "<dir>");
      return { checked: checked.code, checkedError: unsay(checked.stderr), unchecked: unchecked.code, valid: valid(store, path) };
    });
    expect(outcomes[0]!.checkedError).toContain("because it lacks a valid signature");
    expect(outcomes[0]).toMatchObject({ unchecked: 0, valid: true });
    expect(outcomes[0]).toEqual(outcomes[1]!);
  });

  test("nix copy --from ssh-ng:// fetches NARs (NarFromPath) that match the store's contents", () => {
    for (const store of both()) {
      const file = join(store.dir, "fetched.txt");
      writeFileSync(file, `fetched from ${store.kind}\n`);
      const path = runOk(["nix-store", "--add", file], { env: store.localEnv }).toString().trim();
      const target = join(store.dir, "fetch-target");
      runOk(["nix", "copy", "--from", store.url, "--to", `file://${target}`, path], { env: store.env });
      const info = JSON.parse(runOk(["nix", "path-info", "--json", "--store", `file://${target}`, path], { env: store.env }).toString());
      const local = JSON.parse(runOk(["nix", "path-info", "--json", path], { env: store.localEnv }).toString());
      expect({ kind: store.kind, narHash: info[0].narHash, narSize: info[0].narSize }).toEqual({ kind: store.kind, narHash: local[0].narHash, narSize: local[0].narSize });
    }
  });

  test("nix-build --store ssh-ng:// builds remotely", () => {
    const outputs = both().map((store) => {
      const file = join(store.dir, "remote-build.nix");
      writeFileSync(
        file,
        'derivation { name = "remote-build"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo built remotely > $out" ]; }\n',
      );
      const out = runOk(["nix-build", "--store", store.url, "--no-out-link", file], { env: store.env }).toString().trim();
      expect(readFileSync(out, "utf8")).toBe("built remotely\n");
      expect(valid(store, out)).toBe(true);
      return out.slice(store.storeDir.length);
    });
    // Different store dirs give different paths; the names line up.
    expect(outputs[0]!.slice(34)).toBe(outputs[1]!.slice(34));
  });
});
