/**
 * The `nix-store` alias, so that scripts and forced SSH commands written for
 * Nix work. As in Nix 2.8, the first operation flag picks the operation;
 * every other word starting with '-' is an operation flag (`--max-freed`,
 * `--max-links` and `--max-atime` take a value), the rest are arguments.
 * Global flags (--option, --store, verbosity) are handled here.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "../../../internal/errors.ts";
import { NIX_VERSION, extractOptionPairs, out, reportError } from "../../cli.ts";
import { NixArgs, parseBooleanSetting } from "../nix-args.ts";
import { type NixStoreInvocation, OPERATIONS } from "./operations.ts";

const HELP = `Usage: nix-store OPERATION [OPTIONS...] [ARGS...]

Operations implemented by bunix:
  --add PATHS, --add-fixed [--recursive] ALGO PATHS, --print-fixed-path
  --query/-q (--references, --referrers, --requisites/-R, --referrers-closure,
       --deriver/-d, --hash, --size, --outputs, --tree, --graph, --valid-derivers)
  --verify [--check-contents] [--repair], --verify-path PATHS, --repair-path
  --delete PATHS, --export PATHS, --import, --dump-db [PATHS], --load-db,
  --register-validity, --check-validity, --dump PATH, --restore PATH, --init

Options: --option NAME VALUE, --store URI, --stdin, -v, --quiet.
`;

/** Flags of Nix's common argument parser that take a value, and those that take none. */
const GLOBAL_WITH_VALUE = new Set(["--store", "--log-format", "--max-jobs", "-j", "--cores", "--max-silent-time", "--timeout", "--add-root"]);
const GLOBAL_FLAGS = new Set(["-v", "--verbose", "--quiet", "--no-build-output", "-Q", "--show-trace", "--keep-going", "-k", "--keep-failed", "-K", "--fallback", "--indirect", "--no-output", "--readonly-mode", "--repair"]);
const OP_FLAGS_WITH_VALUE = new Set(["--max-freed", "--max-links", "--max-atime"]);

export async function nixStore(argv: readonly string[]): Promise<number> {
  try {
    const args = new NixArgs(extractOptionPairs(argv), "nix-store");
    const invocation: NixStoreInvocation = { operation: "", flags: [], operands: [], store: undefined, globals: new Map(), caseHack: false };
    let readStdin = false;
    for (let arg = args.next(); arg; arg = args.next()) {
      if (!arg.flag) {
        invocation.operands.push(arg.word);
        continue;
      }
      const flag = arg.word;
      if (flag === "--help") {
        out(HELP);
        return 0;
      }
      if (flag === "--version") {
        out(`nix-store (bunix) ${NIX_VERSION}\n`);
        return 0;
      }
      if (OPERATIONS[flag] !== undefined) {
        if (invocation.operation !== "" && OPERATIONS[invocation.operation] !== OPERATIONS[flag]) throw new UsageError("only one operation may be specified");
        invocation.operation = flag;
      } else if (GLOBAL_WITH_VALUE.has(flag)) {
        const value = args.value(flag);
        if (flag === "--store") invocation.store = value;
        invocation.globals.set(flag, value);
      } else if (flag === "--stdin") {
        readStdin = !process.stdin.isTTY;
      } else if (GLOBAL_FLAGS.has(flag)) {
        invocation.globals.set(flag, "");
      } else {
        invocation.flags.push(flag);
        if (OP_FLAGS_WITH_VALUE.has(flag)) invocation.flags.push(args.value(flag));
      }
    }
    if (invocation.operation === "") throw new UsageError("no operation specified");
    if (readStdin) invocation.operands.push(...readFileSync(0, "utf8").split(/\s+/).filter((w) => w !== ""));
    const { settingsFromCommandLine } = await import("../../cli.ts");
    for (const [name, value] of settingsFromCommandLine()) if (name === "use-case-hack") invocation.caseHack = parseBooleanSetting(name, value);
    const handler = await OPERATIONS[invocation.operation]!();
    return (await handler(invocation)) ?? 0;
  } catch (error) {
    return reportError(error, "nix-store --help");
  }
}
