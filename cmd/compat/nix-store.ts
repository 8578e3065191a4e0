/**
 * The `nix-store` alias, so that scripts and forced SSH commands written for
 * Nix work. Implemented operations: --dump, --restore. Common global flags
 * (--option, --store, verbosity) are accepted.
 */
import { UsageError } from "../../internal/errors.ts";
import { NIX_VERSION, out, reportError } from "../cli.ts";
import { dumpToStdout, restoreFromStdin } from "../nar.ts";
import { NixArgs, parseBooleanSetting } from "./nix-args.ts";

const HELP = `Usage: nix-store OPERATION [OPTIONS...] [ARGS...]

Operations implemented by bunix:
  --dump PATH       write the NAR serialisation of PATH to standard output
  --restore PATH    recreate PATH from the NAR on standard input

Options: --option NAME VALUE (use-case-hack), --store URI, -v, --quiet.
`;

/** Operations of Nix's nix-store that bunix does not do yet. */
const NOT_YET = new Set([
  "--realise", "-r", "--add", "--add-fixed", "--delete", "--query", "-q", "--print-env", "--read-log", "-l",
  "--dump-db", "--load-db", "--register-validity", "--check-validity", "--gc", "--verify", "--verify-path",
  "--repair-path", "--optimise", "--optimize", "--serve", "--export", "--import", "--generate-binary-cache-key",
  "--print-fixed-path", "--query-failed-paths", "--clear-failed-paths", "--init",
]);

const IGNORED_FLAGS = new Set(["-v", "--verbose", "--quiet", "--no-build-output", "-Q", "--show-trace", "--keep-going", "-k", "--fallback"]);

type Operation = "--dump" | "--restore";

export async function nixStore(argv: readonly string[]): Promise<number> {
  try {
    const args = new NixArgs(argv, "nix-store");
    let operation: Operation | undefined;
    let caseHack = false;
    const operands: string[] = [];
    const setOperation = (op: Operation) => {
      if (operation !== undefined && operation !== op) throw new UsageError("only one operation may be specified");
      operation = op;
    };
    for (let arg = args.next(); arg; arg = args.next()) {
      if (!arg.flag) {
        operands.push(arg.word);
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
      if (flag === "--dump" || flag === "--restore") setOperation(flag);
      else if (flag === "--option") {
        const name = args.value(flag);
        const value = args.value(flag);
        if (name === "use-case-hack") caseHack = parseBooleanSetting(name, value);
      } else if (flag === "--store" || flag === "--log-format" || flag === "--max-jobs" || flag === "-j" || flag === "--cores") {
        args.value(flag);
      } else if (IGNORED_FLAGS.has(flag)) {
        // verbosity and build flags do not change what these operations do
      } else if (NOT_YET.has(flag)) {
        throw new UsageError(`bunix does not implement 'nix-store ${flag}' yet`);
      } else args.unrecognised(flag);
    }
    if (operation === undefined) throw new UsageError("no operation specified");
    if (operands.length !== 1) throw new UsageError(`'${operation}' takes exactly one path, got ${operands.length}`);
    if (operation === "--dump") dumpToStdout(operands[0]!, caseHack);
    else await restoreFromStdin(operands[0]!, caseHack);
    return 0;
  } catch (error) {
    return reportError(error, "nix-store --help");
  }
}
