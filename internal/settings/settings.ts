/**
 * Settings with Nix's precedence (settings.md 2): built-in defaults, the
 * system nix.conf, the user files (first in the list wins), NIX_CONFIG, then
 * the command line. `extra-NAME` appends to a list. Values keep Nix's text
 * form; typed getters check them and say where a bad value came from.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { type Assignment, ConfigError, type ReadFile, parseConfig } from "./nix-conf.ts";
import { type SettingDefinition, settingDefinitions } from "./definitions.ts";

interface Value {
  text: string;
  origin: string;
  /** Set by something other than the defaults and the system file (forwarded to a daemon). */
  overridden: boolean;
}

const readIfPresent: ReadFile = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

export class Settings {
  private readonly definitions: Record<string, SettingDefinition>;
  private readonly canonical = new Map<string, string>();
  private readonly values = new Map<string, Value>();
  readonly warnings: string[] = [];

  constructor() {
    this.definitions = settingDefinitions();
    for (const [name, definition] of Object.entries(this.definitions)) {
      this.canonical.set(name, name);
      for (const alias of definition.aliases ?? []) this.canonical.set(alias, name);
      this.values.set(name, { text: definition.default, origin: "default", overridden: false });
    }
  }

  /** An independent copy (a daemon connection changes its own). */
  clone(): Settings {
    const copy = new Settings();
    for (const [name, value] of this.values) copy.values.set(name, { ...value });
    return copy;
  }

  /** Why the current value of a setting is not valid for its type, if it is not. */
  problemWith(name: string): string | undefined {
    const type = this.definitions[this.canonical.get(name) ?? name]?.type;
    try {
      if (type === "bool") this.bool(name);
      else if (type === "int") this.int(name);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  /** The canonical name of a setting or alias, if it is one. */
  canonicalName(name: string): string | undefined {
    return this.canonical.get(name);
  }

  /** Applies one assignment; unknown names become warnings, as in Nix. */
  apply(assignment: Assignment, overridden: boolean): void {
    const extra = assignment.name.startsWith("extra-") && !this.canonical.has(assignment.name);
    const name = this.canonical.get(extra ? assignment.name.slice(6) : assignment.name);
    if (name === undefined) {
      this.warnings.push(`unknown setting '${assignment.name}'`);
      return;
    }
    const previous = this.values.get(name)!;
    const text = extra ? [previous.text, assignment.value].filter((t) => t !== "").join(" ") : assignment.value;
    this.values.set(name, { text, origin: `${assignment.origin}:${assignment.line}`, overridden: overridden || previous.overridden });
  }

  set(name: string, value: string, origin = "--option"): void {
    this.apply({ name, value, origin, line: 0 }, true);
  }

  has(name: string): boolean {
    return this.canonical.has(name) || (name.startsWith("extra-") && this.canonical.has(name.slice(6)));
  }

  private value(name: string): Value {
    const value = this.values.get(this.canonical.get(name) ?? name);
    if (value === undefined) throw new Error(`no setting named '${name}'`);
    return value;
  }

  string(name: string): string {
    return this.value(name).text;
  }

  bool(name: string): boolean {
    const { text, origin } = this.value(name);
    if (text === "true" || text === "yes" || text === "1") return true;
    if (text === "false" || text === "no" || text === "0") return false;
    throw new ConfigError(`Boolean setting '${name}' has invalid value '${text}' (from ${origin})`);
  }

  int(name: string): number {
    const { text, origin } = this.value(name);
    if (!/^\d+$/.test(text)) throw new ConfigError(`setting '${name}' has invalid value '${text}': expected an integer (from ${origin})`);
    return Number(text);
  }

  list(name: string): string[] {
    return this.value(name).text.split(/\s+/).filter((t) => t !== "");
  }

  /** Name -> text of every setting given by the user rather than the system (what a client forwards). */
  overridden(): Map<string, string> {
    return new Map([...this.values].filter(([, v]) => v.overridden).map(([k, v]) => [k, v.text]));
  }

  origin(name: string): string {
    return this.value(name).origin;
  }
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** `--option NAME VALUE` pairs, applied last. */
  options?: ReadonlyArray<readonly [string, string]>;
  readFile?: ReadFile;
}

/** The user configuration files, highest precedence first. */
function userFiles(env: Record<string, string | undefined>): string[] {
  if (env.NIX_USER_CONF_FILES !== undefined) return env.NIX_USER_CONF_FILES.split(":").filter((f) => f !== "");
  const home = env.HOME ?? homedir();
  const configHome = env.XDG_CONFIG_HOME ?? `${home}/.config`;
  const configDirs = (env.XDG_CONFIG_DIRS ?? "/etc/xdg").split(":").filter((d) => d !== "");
  return [`${configHome}/nix/nix.conf`, ...configDirs.map((d) => `${d}/nix/nix.conf`)];
}

export function loadSettings(options: LoadOptions = {}): Settings {
  const env = options.env ?? process.env;
  const readFile = options.readFile ?? readIfPresent;
  const settings = new Settings();
  const systemFile = `${env.NIX_CONF_DIR ?? "/etc/nix"}/nix.conf`;
  const system = readFile(systemFile);
  if (system !== undefined) for (const a of parseConfig(system, systemFile, readFile)) settings.apply(a, false);
  for (const file of userFiles(env).reverse()) {
    const text = readFile(file);
    if (text !== undefined) for (const a of parseConfig(text, file, readFile)) settings.apply(a, true);
  }
  if (env.NIX_CONFIG) for (const a of parseConfig(env.NIX_CONFIG, "NIX_CONFIG", readFile)) settings.apply(a, true);
  for (const [name, value] of options.options ?? []) settings.set(name, value);
  return settings;
}
