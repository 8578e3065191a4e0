/** Real Nix 2.8 clients connect to bunix's daemon: handshake, ping, queries, clean shutdown. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorkerClient } from "../../internal/daemon/client.ts";
import { requireNix, run, runOk } from "../helpers/nix.ts";
import { type TestDaemon, startDaemon } from "./support.ts";

let daemon: TestDaemon;

beforeAll(async () => {
  requireNix();
  daemon = await startDaemon();
});

afterAll(async () => {
  await daemon?.stop();
});

describe("bunix daemon with real Nix clients", () => {
  test("nix store ping prints the daemon's version", () => {
    const result = run(["nix", "store", "ping", "--store", `unix://${daemon.socket}`], { env: daemon.clientEnv() });
    expect(result.code).toBe(0);
    expect(result.stdout.toString() + result.stderr).toContain("Version: 2.8.0");
  });

  test("queries of a path added locally match the local answers", () => {
    const file = join(daemon.dir, "hello.txt");
    writeFileSync(file, "hello\n");
    const path = runOk(["nix-store", "--add", file], { env: daemon.localEnv() }).toString().trim();
    for (const query of [["--hash"], ["--size"], ["--references"], ["--referrers"], ["--deriver"]]) {
      const local = runOk(["nix-store", "-q", ...query, path], { env: daemon.localEnv() }).toString();
      const remote = runOk(["nix-store", "-q", ...query, path], { env: daemon.clientEnv() }).toString();
      expect(remote).toBe(local);
    }
    const info = JSON.parse(runOk(["nix", "path-info", "--json", "--store", `unix://${daemon.socket}`, path], { env: daemon.clientEnv() }).toString());
    expect(info[0].path).toBe(path);
    expect(info[0].ca).toStartWith("fixed:r:sha256:");
  });

  test("an invalid path is reported by the client", () => {
    const missing = join(daemon.storeDir, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-missing");
    const result = run(["nix-store", "-q", "--references", missing], { env: daemon.clientEnv() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("is not valid");
  });

  test("an unknown operation closes that connection only", async () => {
    const client = await WorkerClient.connect(daemon.socket);
    await client.setOptions();
    client.writer.u64(99);
    await client.send();
    await expect(client.readStderr()).rejects.toThrow("invalid operation 99");
    client.close();
    const other = await WorkerClient.connect(daemon.socket);
    const reply = await other.op(1, (w) => w.latin1(join(daemon.storeDir, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-missing")));
    expect(await reply.bool("valid")).toBe(false);
    other.close();
  });

  test("SIGTERM stops the daemon cleanly and removes its socket", async () => {
    const second = await startDaemon();
    expect(await second.stop()).toBe(0);
    expect(existsSync(second.socket)).toBe(false);
  });
});
