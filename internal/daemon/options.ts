/**
 * SetOptions (worker-protocol.md 6.5, 7.3): the fixed fields always apply;
 * the overrides map applies in full for trusted clients and only for a few
 * harmless settings otherwise. What is refused is said at debug level, as
 * the 2.8 daemon does; dropped substituters draw a warning.
 */
import { type SettingType, settingDefinitions } from "../settings/definitions.ts";
import type { Settings } from "../settings/settings.ts";
import type { WireReader } from "../wire/reader.ts";
import { Verbosity } from "../wire/worker-protocol.ts";
import type { Logger } from "./logger.ts";

export interface ClientOptions {
  keepFailed: boolean;
  keepGoing: boolean;
  tryFallback: boolean;
  verbosity: number;
  maxBuildJobs: number;
  maxSilentTime: number;
  verboseBuild: boolean;
  buildCores: number;
  useSubstitutes: boolean;
  overrides: Array<[string, string]>;
}

export async function readClientOptions(reader: WireReader, minor: number): Promise<ClientOptions> {
  const keepFailed = await reader.bool("keepFailed");
  const keepGoing = await reader.bool("keepGoing");
  const tryFallback = await reader.bool("tryFallback");
  const verbosity = await reader.u64("verbosity");
  const maxBuildJobs = await reader.u64("maxBuildJobs");
  const maxSilentTime = await reader.u64("maxSilentTime");
  await reader.u64("the obsolete useBuildHook flag");
  const verboseBuild = (await reader.u64("verboseBuild")) === Verbosity.error;
  await reader.u64("the obsolete logType");
  await reader.u64("the obsolete printBuildTrace");
  const buildCores = await reader.u64("buildCores");
  const useSubstitutes = await reader.bool("useSubstitutes");
  const overrides: Array<[string, string]> = [];
  if (minor >= 12) {
    const n = await reader.count("overrides");
    for (let i = 0; i < n; i++) overrides.push([await reader.text("a setting name"), await reader.text("a setting value")]);
  }
  return { keepFailed, keepGoing, tryFallback, verbosity, maxBuildJobs, maxSilentTime, verboseBuild, buildCores, useSubstitutes, overrides };
}

/** Settings an untrusted client may set (aliases do not count, as in 2.8). */
const UNRESTRICTED = new Set(["timeout", "repeat", "connect-timeout"]);

/** Settings a 2.8 daemon accepts by name but that have no effect there (file transfer, evaluation). */
const NOT_STORE_SETTINGS = new Set([
  "http-connections",
  "connect-timeout",
  "stalled-download-timeout",
  "download-attempts",
  "http2",
  "user-agent-suffix",
  "restrict-eval",
  "pure-eval",
  "allowed-uris",
  "allow-import-from-derivation",
  "show-trace",
  "eval-cache",
  "flake-registry",
  "accept-flake-config",
  "commit-lockfile-summary",
  "allow-unsafe-native-code-during-evaluation",
  "trace-function-calls",
  "use-registries",
  "nix-path",
  "tarball-ttl",
]);

const U64_MAX = (1n << 64n) - 1n;
const TYPES = new Map(Object.entries(settingDefinitions()).map(([name, d]) => [name, d.type]));

/**
 * Nix's own words (a UsageError, as 2.8 renders it) when `value` does not fit
 * the type of setting `name`. Integers are unsigned here: 2.8 takes "-1" for
 * its few signed settings (timeout, max-silent-time), which bunix refuses.
 */
function invalidValue(type: SettingType | undefined, name: string, value: string): string | undefined {
  const q = (text: string) => `'\x1b[35;1m${text}\x1b[0m'`;
  const integer = (text: string) => /^\+?\d+$/.test(text) && BigInt(text) <= U64_MAX;
  let problem: string | undefined;
  if (type === "bool" && !["true", "yes", "1", "false", "no", "0"].includes(value)) problem = `Boolean setting ${q(name)} has invalid value ${q(value)}`;
  else if (type === "int" && !integer(value)) problem = `setting ${q(name)} has invalid value ${q(value)}`;
  else if (type === "max-jobs" && value !== "auto" && !integer(value)) problem = `configuration setting ${q(name)} should be 'auto' or an integer`;
  else if (type === "sandbox" && !["true", "false", "relaxed"].includes(value)) problem = `option ${q(name)} has invalid value ${q(value)}`;
  return problem === undefined ? undefined : `\x1b[31;1merror:\x1b[0m ${problem}`;
}

/** The untrusted client's substituters that the daemon allows (trusted-substituters, substituters; 2.8 also tries a trailing slash). */
function allowedSubstituters(settings: Settings, value: string, logger: Logger): string {
  const allowed = new Set([...settings.list("trusted-substituters"), ...settings.list("substituters")]);
  const kept: string[] = [];
  for (const url of value.split(/\s+/).filter((u) => u !== "")) {
    if (allowed.has(url)) kept.push(url);
    else if (!url.endsWith("/") && allowed.has(`${url}/`)) kept.push(`${url}/`);
    else logger.warn(`ignoring untrusted substituter '${url}'`);
  }
  return kept.join(" ");
}

export function applyClientOptions(settings: Settings, options: ClientOptions, trusted: boolean, logger: Logger): void {
  logger.verbosity = options.verbosity;
  settings.set("keep-failed", String(options.keepFailed), "client");
  settings.set("keep-going", String(options.keepGoing), "client");
  settings.set("fallback", String(options.tryFallback), "client");
  settings.set("max-jobs", String(options.maxBuildJobs), "client");
  settings.set("max-silent-time", String(options.maxSilentTime), "client");
  settings.set("verbose-build", String(options.verboseBuild), "client");
  settings.set("cores", String(options.buildCores), "client");
  settings.set("substitute", String(options.useSubstitutes), "client");
  for (const [name, value] of [...options.overrides].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name === "ssh-auth-sock") continue;
    if (name === "experimental-features") {
      if (value !== settings.string("experimental-features")) logger.log(Verbosity.debug, "Ignoring the client-specified experimental features");
      continue;
    }
    if (!trusted) {
      if (name === "substituters" || name === "binary-caches") {
        settings.set("substituters", allowedSubstituters(settings, value, logger), "client");
        continue;
      }
      const harmless = UNRESTRICTED.has(name) || (name === "builders" && value === "");
      if (!harmless) {
        logger.log(Verbosity.debug, `ignoring the client-specified setting '${name}', because it is a restricted setting and you are not a trusted user`);
        continue;
      }
    }
    const canonical = settings.canonicalName(name);
    if (NOT_STORE_SETTINGS.has(name) || canonical === undefined) continue;
    const problem = invalidValue(TYPES.get(canonical), canonical, value);
    if (problem !== undefined) logger.warn(problem);
    else settings.set(canonical, value, "client");
  }
}
