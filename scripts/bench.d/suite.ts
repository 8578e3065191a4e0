/**
 * What a benchmark suite is. A suite lives in its own file here and is listed
 * in SUITES in scripts/bench.ts; --only picks suites by name.
 */
import type { Comparison, Tools } from "./measure.ts";
import type { Options } from "./options.ts";

export interface Suite {
  /** The name --only selects it by. */
  readonly name: string;
  /** One line for --help. */
  readonly description: string;
  /** Entries it creates in the work dir, removed at the end unless --keep. */
  readonly workEntries: readonly string[];
  run(context: SuiteContext): Promise<SuiteResult>;
}

export interface SuiteContext {
  options: Options;
  /** The work dir: data the suite generates goes here, under its workEntries. */
  work: string;
  tools: Tools;
}

export interface SuiteResult {
  /** Lines about the data and the method, printed above the common table. */
  summary: string[];
  /** Rows of the common table (operation | nix | bunix | ratio | cpu) and of the JSON line's `ops`. */
  rows: Comparison[];
  /** Tables of the suite's own, printed after the common table. */
  sections: string[];
  /** Fields added to the top level of the JSON line; a key may be used by one suite only. */
  json: Record<string, unknown>;
}
