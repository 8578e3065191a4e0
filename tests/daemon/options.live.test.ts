/**
 * SetOptions from trusted and untrusted clients (worker-protocol.md 6.5,
 * 7.3), and an operation refused to untrusted ones, side by side with real
 * nix-daemon: the same requests draw the same messages. Root is made
 * untrusted with an empty `trusted-users`, so the raw client (and real Nix
 * clients) can play both roles.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { RemoteError, WorkerClient } from "../../internal/daemon/client.ts";
import { Op } from "../../internal/wire/worker-protocol.ts";
import { writeBasicDerivation } from "../../internal/wire/worker-types.ts";
import { requireNix, run } from "../helpers/nix.ts";
import { DEFAULT_NIX_CONF, type TestDaemon, startDaemon } from "./support.ts";

// Real Nix clients and daemons on a shared machine: seconds each, more under load.
setDefaultTimeout(60_000);

/** The overrides of vector raw-untrusted-setoptions, plus a substituter the daemon trusts (without its slash). */
const OVERRIDES: Array<[string, string]> = [
  ["build-repeat", "0"],
  ["builders", ""],
  ["connect-timeout", "5"],
  ["experimental-features", "ca-derivations"],
  ["no-such-setting", "1"],
  ["sandbox", "false"],
  ["ssh-auth-sock", "x"],
  ["substituters", "https://cache.example.org/ file:///nonexistent https://trusted.example.org http://listed.example.org"],
  ["timeout", "17"],
];

const SUBSTITUTER_CONF = "trusted-substituters = https://trusted.example.org/\nextra-substituters = http://listed.example.org\n";

type Kind = "bunix" | "nix";
const KINDS: Kind[] = ["bunix", "nix"];
const untrusted: Partial<Record<Kind, TestDaemon>> = {};
const trusted: Partial<Record<Kind, TestDaemon>> = {};

beforeAll(async () => {
  requireNix();
  for (const kind of KINDS) {
    untrusted[kind] = await startDaemon(kind, { nixConf: `${DEFAULT_NIX_CONF}trusted-users =\n${SUBSTITUTER_CONF}` });
    trusted[kind] = await startDaemon(kind, { nixConf: `${DEFAULT_NIX_CONF}${SUBSTITUTER_CONF}` });
  }
});

afterAll(async () => {
  for (const daemon of [...Object.values(untrusted), ...Object.values(trusted)]) await daemon?.stop();
});

/** The log lines a SetOptions draws, per daemon kind. */
async function linesFor(daemons: Partial<Record<Kind, TestDaemon>>, overrides: Array<[string, string]>, verbosity: number): Promise<Record<Kind, string[]>> {
  const out: Partial<Record<Kind, string[]>> = {};
  for (const kind of KINDS) {
    const client = await WorkerClient.connect(daemons[kind]!.socket);
    try {
      await client.setOptions(overrides, verbosity);
      out[kind] = client.messages.map((m) => (m.kind === "next" ? m.text : JSON.stringify(m)));
      // The connection goes on after SetOptions.
      const reply = await client.op(1, (w) => w.latin1(`${daemons[kind]!.storeDir}/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x`));
      expect(await reply.bool("valid")).toBe(false);
    } finally {
      client.close();
    }
  }
  return out as Record<Kind, string[]>;
}

describe("SetOptions from an untrusted client", () => {
  test("at verbosity 7 every refused override is reported, as by nix-daemon", async () => {
    const lines = await linesFor(untrusted, OVERRIDES, 7);
    expect(lines.bunix).toEqual(lines.nix);
    expect(lines.bunix).toContain("\x1b[35;1mwarning:\x1b[0m ignoring untrusted substituter 'https://cache.example.org/'\n");
    expect(lines.bunix).toContain(
      "ignoring the client-specified setting 'sandbox', because it is a restricted setting and you are not a trusted user\n",
    );
    expect(daemonLogMentionsUntrusted(untrusted.bunix!)).toBe(true);
  });

  test("at the default verbosity only the substituter warnings reach the client", async () => {
    const lines = await linesFor(untrusted, OVERRIDES, 3);
    expect(lines.bunix).toEqual(lines.nix);
    expect(lines.bunix.every((l) => l.includes("ignoring untrusted substituter"))).toBe(true);
  });

  test("a real client's --option substituters draws the same warning from both daemons", () => {
    const outputs = KINDS.map((kind) => {
      const daemon = untrusted[kind]!;
      const result = run(["nix", "store", "ping", "--store", `unix://${daemon.socket}`, "--option", "substituters", "http://evil.example.org"], {
        env: daemon.clientEnv(),
      });
      expect(result.code).toBe(0);
      return result.stderr.replaceAll(daemon.socket, "<socket>");
    });
    expect(outputs[0]).toContain("ignoring untrusted substituter 'http://evil.example.org'");
    expect(outputs[0]).toBe(outputs[1]!);
  });
});

describe("operations refused to an untrusted client", () => {
  test("BuildDerivation of an input-addressed derivation fails as with nix-daemon, and the connection goes on", async () => {
    const errors: string[] = [];
    for (const kind of KINDS) {
      const daemon = untrusted[kind]!;
      const client = await WorkerClient.connect(daemon.socket);
      try {
        await client.setOptions();
        const out = `${daemon.storeDir}/00000000000000000000000000000000-refused`;
        const drv = { outputs: [{ name: "out", path: out, hashAlgo: "", hash: "" }], inputSrcs: [], platform: "x86_64-linux", builder: "/bin/sh", args: ["-c", "echo > $out"], env: [["out", out]] as Array<[string, string]> };
        const failure = await client
          .op(Op.BuildDerivation, (w) => {
            w.latin1(`${daemon.storeDir}/00000000000000000000000000000000-refused.drv`);
            writeBasicDerivation(w, drv);
            w.u64(0);
          })
          .then(() => undefined, (error: unknown) => error);
        expect(failure).toBeInstanceOf(RemoteError);
        errors.push((failure as RemoteError).message);
        const reply = await client.op(Op.IsValidPath, (w) => w.latin1(out));
        expect(await reply.bool("valid")).toBe(false);
      } finally {
        client.close();
      }
    }
    expect(errors[0]).toContain("you are not privileged to build input-addressed derivations");
    expect(errors[0]).toBe(errors[1]!);
  });
});

describe("SetOptions from a trusted client", () => {
  test("restricted settings are taken silently; invalid values draw Nix's warnings", async () => {
    const overrides: Array<[string, string]> = [
      ...OVERRIDES,
      ["build-timeout", "x"],
      ["cores", "many"],
      ["gc-reserved-space", "99999999999999999999999"],
      ["keep-outputs", "maybe"],
      ["max-jobs", "lots"],
      ["sandbox-fallback", "2"],
      ["store", "elsewhere"],
    ];
    const lines = await linesFor(trusted, overrides, 7);
    expect(lines.bunix).toEqual(lines.nix);
  });
});

function daemonLogMentionsUntrusted(daemon: TestDaemon): boolean {
  return /accepted connection from pid \d+, user root\n/.test(daemon.log());
}
