/**
 * The nix.conf syntax (settings.md 1): one `NAME = VALUE...` per line, `#`
 * comments anywhere, values re-joined from whitespace-separated tokens (no
 * quoting), `include PATH` / `!include PATH` relative to the including file.
 * Parsing is pure; reading included files goes through `readFile`.
 */
import { posix } from "node:path";
import { BunixError } from "../errors.ts";

export class ConfigError extends BunixError {
  override name = "ConfigError";
}

export interface Assignment {
  readonly name: string;
  readonly value: string;
  /** Where it came from, for messages: a file path, "NIX_CONFIG" or "--option". */
  readonly origin: string;
  readonly line: number;
}

/** Returns a file's text, or undefined when it does not exist or cannot be read. */
export type ReadFile = (path: string) => string | undefined;

const MAX_INCLUDE_DEPTH = 32;

export function parseConfig(text: string, origin: string, readFile: ReadFile, depth = 0): Assignment[] {
  const out: Assignment[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const hash = raw.indexOf("#");
    const tokens = (hash >= 0 ? raw.slice(0, hash) : raw).split(/[ \t\r]+/).filter((t) => t !== "");
    if (tokens.length === 0) continue;
    const where = `${origin}:${i + 1}`;
    if (tokens[0] === "include" || tokens[0] === "!include") {
      if (tokens.length !== 2) throw new ConfigError(`illegal configuration line '${raw.trim()}' in '${where}'`);
      if (depth >= MAX_INCLUDE_DEPTH) throw new ConfigError(`too deeply nested includes at '${where}'`);
      const path = posix.resolve(posix.dirname(origin), tokens[1]!);
      const included = readFile(path);
      if (included === undefined) {
        if (tokens[0] === "include") throw new ConfigError(`file '${path}' included from '${where}' not found`);
        continue;
      }
      out.push(...parseConfig(included, path, readFile, depth + 1));
      continue;
    }
    if (tokens.length < 2 || tokens[1] !== "=") throw new ConfigError(`illegal configuration line '${raw.trim()}' in '${where}'`);
    out.push({ name: tokens[0]!, value: tokens.slice(2).join(" "), origin, line: i + 1 });
  }
  return out;
}
