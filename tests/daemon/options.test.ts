/**
 * What SetOptions leaves in a connection's settings (worker-protocol.md
 * 7.3): the values a client cannot observe over the wire. The messages
 * themselves are compared with real nix-daemon in options.live.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { Logger, activityIds } from "../../internal/daemon/logger.ts";
import { type ClientOptions, applyClientOptions } from "../../internal/daemon/options.ts";
import { Output } from "../../internal/daemon/output.ts";
import type { Transport } from "../../internal/daemon/transport.ts";
import { Settings } from "../../internal/settings/settings.ts";

/** The bytes a connection would send, kept (SetOptions only logs). */
class KeptBytes implements Transport {
  readonly chunks: Uint8Array[] = [];
  readonly incoming: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: async function* () {} };
  write(bytes: Uint8Array): Promise<void> {
    this.chunks.push(bytes);
    return Promise.resolve();
  }
  close(): void {}
  text(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }
}

function daemonSettings(): Settings {
  const settings = new Settings();
  settings.set("substituters", "https://cache.nixos.org/", "nix.conf");
  settings.set("trusted-substituters", "https://trusted.example.org/ file:///srv/cache", "nix.conf");
  return settings;
}

function options(overrides: Array<[string, string]>): ClientOptions {
  return {
    keepFailed: true,
    keepGoing: false,
    tryFallback: false,
    verbosity: 3,
    maxBuildJobs: 4,
    maxSilentTime: 30,
    verboseBuild: false,
    buildCores: 2,
    useSubstitutes: false,
    overrides,
  };
}

async function apply(overrides: Array<[string, string]>, trusted: boolean): Promise<{ settings: Settings; sent: string }> {
  const settings = daemonSettings();
  const bytes = new KeptBytes();
  const out = new Output(bytes);
  const logger = new Logger(out, 34, activityIds());
  logger.startWork();
  applyClientOptions(settings, options(overrides), trusted, logger);
  logger.finishWork();
  await out.send();
  return { settings, sent: bytes.text() };
}

const ASKED: Array<[string, string]> = [
  ["sandbox", "false"],
  ["substituters", "https://evil.example.org file:///srv/cache https://trusted.example.org"],
  ["timeout", "17"],
  ["allowed-users", "nobody"],
];

describe("an untrusted client's SetOptions", () => {
  test("keeps only the allowed substituters (the trusted one gains its slash) and leaves sandbox on", async () => {
    const { settings, sent } = await apply(ASKED, false);
    expect(settings.string("substituters")).toBe("file:///srv/cache https://trusted.example.org/");
    expect(settings.string("sandbox")).toBe("true");
    expect(settings.string("allowed-users")).toBe("*");
    expect(settings.string("timeout")).toBe("17");
    expect(sent).toContain("ignoring untrusted substituter 'https://evil.example.org'");
    expect(sent).not.toContain("file:///srv/cache'");
  });

  test("still sets the fixed fields", async () => {
    const { settings } = await apply([], false);
    expect([settings.string("keep-failed"), settings.string("max-jobs"), settings.string("max-silent-time")]).toEqual(["true", "4", "30"]);
    expect([settings.string("cores"), settings.string("substitute")]).toEqual(["2", "false"]);
  });
});

describe("a trusted client's SetOptions", () => {
  test("sets substituters and sandbox as asked", async () => {
    const { settings, sent } = await apply(ASKED, true);
    expect(settings.string("substituters")).toBe("https://evil.example.org file:///srv/cache https://trusted.example.org");
    expect(settings.string("sandbox")).toBe("false");
    expect(sent).not.toContain("ignoring");
  });

  test("keeps the old value when the new one is invalid", async () => {
    const { settings, sent } = await apply([["build-cores", "many"], ["sandbox", "maybe"]], true);
    expect(settings.string("cores")).toBe("2");
    expect(settings.string("sandbox")).toBe("true");
    expect(sent).toContain("option '\x1b[35;1msandbox\x1b[0m' has invalid value '\x1b[35;1mmaybe\x1b[0m'");
    expect(sent).toContain("setting '\x1b[35;1mcores\x1b[0m' has invalid value");
  });

  test("never changes the experimental features", async () => {
    const { settings } = await apply([["experimental-features", "ca-derivations"]], true);
    expect(settings.string("experimental-features")).not.toContain("ca-derivations");
  });
});
