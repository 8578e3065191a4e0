/** Command-line options of scripts/bench.ts. */

export interface Options {
  runs: number;
  keep: boolean;
  json: boolean;
  seed: number;
  quick: boolean;
  /** Suite names given to --only; undefined: every suite. */
  only: readonly string[] | undefined;
}

/** A wrong command line: reported with the usage, exit status 2. */
export class UsageFailure extends Error {}

export function usage(suites: ReadonlyArray<{ name: string; description: string }>): string {
  const width = Math.max(...suites.map((s) => s.name.length));
  const suiteLines = suites.map((s) => `               ${s.name.padEnd(width)}  ${s.description}`).join("\n");
  return `usage: scripts/bench [--runs N] [--keep] [--json] [--seed S] [--quick] [--only SUITE[,SUITE]] [--rebuild]

  --runs N   timed runs per command, median reported (default 5; 1 GiB file: min(N, 3))
  --keep     keep the work dir (a kept BUNIX_BENCH_DIR is reused by the next run)
  --json     print only one JSON line with all numbers
  --seed S   seed of the generated data (default 1)
  --quick    small data (a smoke test of the benchmark itself, not a benchmark)
  --only S   run only the suites named, comma-separated (default: all of them):
${suiteLines}
  --rebuild  (scripts/bench) rebuild dist/bunix first

Work dir: $BUNIX_BENCH_DIR, or a fresh mktemp dir under /tmp.`;
}

/** The options in `argv`, or "help" for -h/--help; throws UsageFailure. */
export function parseOptions(argv: readonly string[], suiteNames: readonly string[]): Options | "help" {
  const options: Options = { runs: 5, keep: false, json: false, seed: 1, quick: false, only: undefined };
  const integer = (flag: string, value: string | undefined, min: number): number => {
    if (value === undefined || !/^\d+$/.test(value) || Number(value) < min) throw new UsageFailure(`${flag} needs an integer >= ${min}`);
    return Number(value);
  };
  const suiteList = (value: string | undefined): string[] => {
    const names = (value ?? "").split(",").map((name) => name.trim()).filter((name) => name !== "");
    if (names.length === 0) throw new UsageFailure(`--only needs suite names, comma-separated (known: ${suiteNames.join(", ")})`);
    for (const name of names) {
      if (!suiteNames.includes(name)) throw new UsageFailure(`--only: unknown suite '${name}' (known: ${suiteNames.join(", ")})`);
    }
    return names;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case "--runs":
        options.runs = integer("--runs", value(), 1);
        break;
      case "--seed":
        options.seed = integer("--seed", value(), 0);
        break;
      case "--keep":
        options.keep = true;
        break;
      case "--json":
        options.json = true;
        break;
      case "--quick":
        options.quick = true;
        break;
      case "--only":
        // Repeated --only flags add up.
        options.only = [...new Set([...(options.only ?? []), ...suiteList(value())])];
        break;
      case "-h":
      case "--help":
        return "help";
      default:
        throw new UsageFailure(`unknown argument '${arg}'`);
    }
  }
  return options;
}
