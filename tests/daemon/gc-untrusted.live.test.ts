/**
 * Untrusted clients (worker-protocol.md 7.3), side by side with real
 * nix-daemon 2.8: both daemons run with `trusted-users =` (empty), so the
 * test's client, root included, is untrusted. FindRoots shows temporary
 * and runtime roots as `{censored}` (the trusted local view names the
 * process); verify with repair is refused; collections are allowed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { WorkerClient } from "../../internal/daemon/client.ts";
import { requireNix, run, runOk } from "../helpers/nix.ts";
import { normalise } from "./build-support.ts";
import { DEFAULT_NIX_CONF, type TestDaemon, startDaemon } from "./support.ts";

interface Filled {
  daemon: TestDaemon;
  paths: Record<string, string>;
  /** Holds a temporary root for the test's duration. */
  holder: WorkerClient;
  /** A process whose working directory is a store path: a runtime root. */
  runtime: Subprocess;
}

let pair: Filled[] = [];

async function fill(daemon: TestDaemon): Promise<Filled> {
  const files = join(daemon.dir, "files");
  mkdirSync(join(files, "cwd-dir"), { recursive: true });
  writeFileSync(join(files, "cwd-dir", "file"), "a directory a process works in\n");
  const paths: Record<string, string> = {};
  for (const name of ["held.txt", "rooted.txt", "dead.txt"]) writeFileSync(join(files, name), `${name}\n`);
  for (const name of ["held.txt", "rooted.txt", "dead.txt", "cwd-dir"]) {
    paths[name] = runOk(["nix-store", "--add", join(files, name)], { env: daemon.clientEnv() }).toString().trim();
  }
  mkdirSync(join(daemon.stateDir, "gcroots"), { recursive: true });
  runOk(["ln", "-s", paths["rooted.txt"]!, join(daemon.stateDir, "gcroots", "rooted")]);
  const holder = await WorkerClient.connect(daemon.socket);
  await holder.setOptions();
  await (await holder.op(11, (w) => w.latin1(paths["held.txt"]!))).u64("result");
  const runtime = Bun.spawn(["sleep", "600"], { cwd: paths["cwd-dir"]!, stdout: "ignore", stderr: "ignore" });
  return { daemon, paths, holder, runtime };
}

function comparable(d: TestDaemon, text: string): string[] {
  return normalise(text)
    .replaceAll(d.dir, "DIR")
    .split("\n")
    .filter((l) => l !== "")
    .sort();
}

beforeAll(async () => {
  requireNix();
  const nixConf = `${DEFAULT_NIX_CONF}trusted-users =\n`;
  const daemons = await Promise.all([startDaemon("bunix", { nixConf }), startDaemon("nix", { nixConf })]);
  pair = await Promise.all(daemons.map(fill));
});

afterAll(async () => {
  for (const f of pair) {
    f.holder.close();
    f.runtime.kill();
  }
  await Promise.all(pair.map(({ daemon }) => daemon.stop()));
});

test("nix-store --gc --print-roots: temporary and runtime roots censored, as nix-daemon censors them", () => {
  const [ours, theirs] = pair.map(({ daemon }) => {
    const result = run(["nix-store", "--gc", "--print-roots"], { env: daemon.clientEnv() });
    return { code: result.code, stdout: comparable(daemon, result.stdout.toString()) };
  });
  expect(ours).toEqual(theirs!);
  expect(ours!.stdout).toEqual(["DIR/state/gcroots/rooted -> STORE/rooted.txt", "{censored} -> STORE/cwd-dir", "{censored} -> STORE/held.txt"]);
  // Opening the store directly (trusted), the same roots have names.
  const { daemon, runtime } = pair[0]!;
  const local = comparable(daemon, runOk(["nix-store", "--gc", "--print-roots"], { env: daemon.localEnv() }).toString());
  expect(local).toContain(`/proc/${runtime.pid}/cwd -> STORE/cwd-dir`);
  expect(local).toContain(`{temp:${daemon.process.pid}} -> STORE/held.txt`);
});

test("nix-store --verify --repair is refused: 'you are not privileged to repair paths', exit 1", () => {
  const [ours, theirs] = pair.map(({ daemon }) => {
    const result = run(["nix-store", "--verify", "--repair"], { env: daemon.clientEnv() });
    return { code: result.code, stderr: result.stderr };
  });
  expect(ours).toEqual(theirs!);
  expect(ours).toEqual({ code: 1, stderr: "error: you are not privileged to repair paths\n" });
});

test("collections are allowed; what the roots keep (the runtime and temporary ones too) stays", () => {
  const [ours, theirs] = pair.map(({ daemon }) => {
    const result = run(["nix-store", "--gc"], { env: daemon.clientEnv() });
    return { code: result.code, stdout: comparable(daemon, result.stdout.toString()), stderr: comparable(daemon, result.stderr) };
  });
  expect(ours).toEqual(theirs!);
  expect(ours!.stderr).toContain("deleting 'STORE/dead.txt'");
  expect(ours!.stdout).toEqual(["1 store paths deleted, 0.00 MiB freed"]);
});
