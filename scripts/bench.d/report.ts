/**
 * Output: number formatting, text tables, the report of all suites (header,
 * the common nix/bunix table, each suite's own tables) and the JSON line.
 */
import type { Setup } from "./context.ts";
import { BenchFailure } from "./log.ts";
import type { Comparison, Side } from "./measure.ts";
import type { Options } from "./options.ts";
import type { SuiteResult } from "./suite.ts";
import { MB } from "./units.ts";

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
}

export function fmtMB(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

export function fmtRate(bytes: number, ms: number): string {
  return `${Math.round(bytes / MB / (ms / 1000))} MB/s`;
}

/** A text table; columns in `rightAlign` (by index) are aligned right. Widths count display cells. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, rightAlign: ReadonlySet<number>): string {
  const widths = headers.map((h, i) => Math.max(Bun.stringWidth(h), ...rows.map((r) => Bun.stringWidth(r[i] ?? ""))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const pad = " ".repeat(widths[i]! - Bun.stringWidth(c));
        return rightAlign.has(i) ? pad + c : c + pad;
      })
      .join(" | ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n");
}

/** The common table: every suite's operations, timed on both tools. */
function comparisonTable(rows: readonly Comparison[]): string {
  const cell = (r: Comparison, s: Side) => (r.bytes > 0 ? `${fmtMs(s.medianMs)} (${fmtRate(r.bytes, s.medianMs)})` : fmtMs(s.medianMs));
  return table(
    ["operation", "nix", "bunix", "ratio", "cpu nix / bunix"],
    rows.map((r) => [r.label, cell(r, r.nix), cell(r, r.bunix), `${r.ratio.toFixed(2)}x`, `${fmtMs(r.nix.medianCpuMs)} / ${fmtMs(r.bunix.medianCpuMs)}`]),
    new Set([1, 2, 3, 4]),
  );
}

/** The text report: header and summaries, the common table, the suites' tables, total time. */
export function textReport(setup: Setup, results: readonly SuiteResult[], totalSeconds: number): string {
  const { versions, machine } = setup;
  const lines = ["", `bunix vs Nix: ${versions.bunix} / ${versions.nix}, bun ${versions.bun}, ${machine.cores} x ${machine.cpu}`];
  for (const result of results) lines.push(...result.summary);
  const rows = results.flatMap((result) => result.rows);
  if (rows.length > 0) lines.push("", comparisonTable(rows));
  for (const result of results) for (const section of result.sections) lines.push("", section);
  lines.push("", `total ${totalSeconds} s`);
  return lines.join("\n");
}

/** The JSON line: common fields, `ops` (all rows by key), then each suite's own fields. */
export function jsonReport(options: Options, setup: Setup, results: readonly SuiteResult[], totalSeconds: number): Record<string, unknown> {
  const ops: Record<string, Comparison> = {};
  for (const row of results.flatMap((result) => result.rows)) {
    if (Object.hasOwn(ops, row.key)) throw new BenchFailure(`two operations use the key '${row.key}'`);
    ops[row.key] = row;
  }
  const report: Record<string, unknown> = {
    benchmark: "bunix-vs-nix",
    version: 1,
    date: new Date().toISOString(),
    quick: options.quick,
    runs: options.runs,
    seed: options.seed,
    machine: setup.machine,
    versions: setup.versions,
    ops,
  };
  for (const result of results) {
    for (const [key, value] of Object.entries(result.json)) {
      // A clash would silently drop numbers from the line.
      if (Object.hasOwn(report, key) || key === "totalSeconds") throw new BenchFailure(`two parts of the report use the JSON key '${key}'`);
      report[key] = value;
    }
  }
  report["totalSeconds"] = totalSeconds;
  return report;
}
