/**
 * What every command shares: building a cac parser for a command group,
 * running it, printing output and errors, and exit codes.
 *
 * Exit codes: 0 success, 1 a failed operation (bad input, I/O error),
 * 2 a usage error (unknown flag, missing argument). Errors print as
 * `error: <message>` on stderr, like Nix.
 */
import { type CAC, cac } from "cac";
import { BunixError, UsageError } from "../internal/errors.ts";
import { writeAllSync } from "../internal/stream/fd-write.ts";

export const VERSION = "0.1.0";
export const NIX_VERSION = "2.8.0";

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** What a shell reports for a process killed by SIGPIPE. */
const EXIT_BROKEN_PIPE = 141;

export function out(text: string): void {
  writeAllSync(1, Buffer.from(text));
}

export function outBytes(bytes: Uint8Array): void {
  writeAllSync(1, bytes);
}

export function warn(text: string): void {
  writeAllSync(2, Buffer.from(`warning: ${text}\n`));
}

/** Prints an error the way the user should see it and returns the exit code. */
export function reportError(error: unknown, helpHint?: string): number {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EPIPE") return EXIT_BROKEN_PIPE;
  if (error instanceof UsageError || isCacError(error)) {
    const hint = helpHint ? `\nTry '${helpHint}' for more information.` : "";
    writeAllSync(2, Buffer.from(`error: ${(error as Error).message}${hint}\n`));
    return EXIT_USAGE;
  }
  if (error instanceof BunixError) {
    writeAllSync(2, Buffer.from(`error: ${error.message}\n`));
    return EXIT_FAILURE;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  writeAllSync(2, Buffer.from(`error: internal error (please report it): ${text}\n`));
  return EXIT_FAILURE;
}

function isCacError(error: unknown): error is Error {
  return error instanceof Error && error.name === "CACError";
}

/** An action's result: an exit code, or nothing for success. */
export type ActionResult = number | void;

/**
 * `--option NAME VALUE` takes two values, which cac cannot express; it is
 * taken out of the command line before parsing and kept here for the
 * command that opens the store.
 */
const commandLineSettings: Array<[string, string]> = [];

export function settingsFromCommandLine(): ReadonlyArray<readonly [string, string]> {
  return commandLineSettings;
}

/** A flag that stands for a setting (`--timeout 10` is `--option timeout 10`). */
export function addCommandLineSetting(name: string, value: string): void {
  commandLineSettings.push([name, value]);
}

export function extractOptionPairs(argv: readonly string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (argv[i] === "--option") {
      if (i + 2 >= argv.length) throw new UsageError("'--option' requires two arguments: a setting name and a value");
      commandLineSettings.push([argv[i + 1]!, argv[i + 2]!]);
      i += 2;
    } else rest.push(argv[i]!);
  }
  return rest;
}

/**
 * cac declares flags under camel-cased names, but hands mri the words as
 * typed, so a boolean `--dry-run` would swallow the next argument as its
 * value. Spelling long flags the way cac declared them avoids that.
 */
function camelFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  let flags = true;
  for (const word of argv) {
    if (word === "--") flags = false;
    if (flags && word.startsWith("--") && !word.startsWith("--no-")) {
      const eq = word.indexOf("=");
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      out.push(`--${name.replace(/([a-z])-([a-z])/g, (_, a: string, b: string) => a + b.toUpperCase())}${eq < 0 ? "" : word.slice(eq)}`);
    } else out.push(word);
  }
  return out;
}

/** Undoes camelFlags in cac's messages ("Unknown option `--dryRun`"). */
function kebabMessage(error: Error): Error {
  error.message = error.message.replace(/--([a-z][A-Za-z]*)/g, (_, name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  return error;
}

/**
 * Runs a cac parser over `argv` (the words after the program/group name).
 * With no subcommand it prints help and returns a usage error.
 */
export async function runCac(cli: CAC, argv: readonly string[]): Promise<number> {
  let result: unknown;
  try {
    cli.parse(["bunix", cli.name, ...camelFlags(extractOptionPairs(argv))], { run: false });
    if (cli.options.help || cli.options.version) return 0;
    if (!cli.matchedCommand) {
      const word = cli.args[0];
      if (word !== undefined) throw new UsageError(`unknown command '${word}' for '${cli.name}'`);
      cli.outputHelp();
      return EXIT_USAGE;
    }
    result = await cli.runMatchedCommand();
  } catch (error) {
    if (isCacError(error)) kebabMessage(error);
    return reportError(error, `${cli.name}${cli.matchedCommandName ? ` ${cli.matchedCommandName}` : ""} --help`);
  }
  return typeof result === "number" ? result : 0;
}

/** A cac parser named like `bunix nar`, with --help. */
export function commandGroup(name: string): CAC {
  const cli = cac(name);
  cli.help();
  return cli;
}

/** cac turns numeric-looking words into numbers; we want the text back. */
export function str(value: unknown): string | undefined {
  return value === undefined || value === null || value === false ? undefined : String(value);
}

export function strings(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** Rejects a flag given more than once where that makes no sense. */
export function single(value: unknown, flag: string): string | undefined {
  if (Array.isArray(value)) throw new UsageError(`flag '${flag}' given more than once`);
  return str(value);
}
