/**
 * `bunix store verify` (the whole store, like `nix-store --verify`, plus
 * canonical metadata) and `bunix store verify-path` / `repair-path`.
 * Problems go to stdout one per line as they are found, then a summary;
 * `--json` prints the structured report instead. Exit status 1 when a
 * problem is left unrepaired.
 */
import type { CAC } from "cac";
import { describeMetadataIssue } from "../../internal/store/canonicalise.ts";
import type { LocalStore } from "../../internal/store/local-store.ts";
import { checkPath, repairPath } from "../../internal/store/verify-path.ts";
import { type VerifyEvent, type VerifyPhase, type VerifyReport, describeProblem, unresolved } from "../../internal/store/verify-report.ts";
import { verifyStore } from "../../internal/store/verify.ts";
import { type ActionResult, EXIT_FAILURE, out, strings } from "../cli.ts";
import { Progress } from "../progress.ts";
import { type StoreFlags, openStore, withStoreOptions } from "../store-options.ts";
import { storePathArgument } from "./path-info.ts";

interface VerifyFlags extends StoreFlags {
  checkContents?: boolean;
  repair?: boolean;
  json?: boolean;
  metadata?: boolean;
}

const PHASE_LABEL: Record<VerifyPhase, string> = {
  reading: "reading the store",
  existence: "checking path existence",
  metadata: "checking metadata",
  links: "checking link hashes",
  contents: "checking store hashes",
};

function summary(report: VerifyReport): string {
  const left = unresolved(report).length;
  const repaired = report.problems.filter((p) => p.repaired).length;
  const checked = [`${report.validPaths} valid paths`, `metadata of ${report.entriesChecked} entries`];
  if (report.contentsChecked > 0 || report.linksChecked > 0) checked.push(`contents of ${report.contentsChecked} objects and ${report.linksChecked} links`);
  const found = report.problems.length === 0 ? "no problems" : `${report.problems.length} problem${report.problems.length === 1 ? "" : "s"}: ${repaired} repaired, ${left} not repaired`;
  return `checked ${checked.join(", ")}; ${found}\n`;
}

function verify(flags: VerifyFlags): ActionResult {
  const store = openStore(flags, "write");
  const progress = new Progress();
  const onEvent = (event: VerifyEvent): void => {
    if (event.type === "progress") progress.update(`${PHASE_LABEL[event.phase]} [${event.done + 1}/${event.total}] ${event.item}`);
    else if (event.type === "phase") progress.update(PHASE_LABEL[event.phase], true);
    else if (event.type === "waiting") {
      progress.done();
      process.stderr.write(`${event.message}\n`);
    } else if (event.type === "problem" && !flags.json) {
      progress.done();
      out(`${event.problem.kind}: ${describeProblem(event.problem)}\n`);
    }
  };
  try {
    const report = verifyStore(store, {
      checkContents: flags.checkContents === true,
      repair: flags.repair === true,
      checkMetadata: flags.metadata !== false,
      onEvent,
    });
    progress.done();
    out(flags.json ? `${JSON.stringify({ ...report, ok: unresolved(report).length === 0 })}\n` : summary(report));
    return unresolved(report).length === 0 ? 0 : EXIT_FAILURE;
  } finally {
    progress.done();
    store.close();
  }
}

function parsePaths(store: LocalStore, args: string[]) {
  return strings(args).map((arg) => storePathArgument(store, arg));
}

function verifyPaths(args: string[], flags: { json?: boolean } & StoreFlags): ActionResult {
  const store = openStore(flags, "read");
  try {
    const checks = parsePaths(store, args).map((path) => checkPath(store, path));
    if (flags.json) {
      const rows = checks.map((c) => ({
        path: c.path,
        status: c.status,
        ...(c.detail ? { detail: c.detail } : {}),
        ...(c.expected ? { expected: c.expected.format("sri") } : {}),
        ...(c.actual ? { actual: c.actual.format("sri") } : {}),
      }));
      out(`${JSON.stringify(rows)}\n`);
    } else {
      for (const check of checks) if (check.status !== "ok") out(`${check.detail}\n`);
    }
    return checks.every((c) => c.status === "ok") ? 0 : EXIT_FAILURE;
  } finally {
    store.close();
  }
}

function repairPaths(args: string[], flags: StoreFlags): ActionResult {
  const store = openStore(flags, "write");
  try {
    for (const path of parsePaths(store, args)) {
      const result = repairPath(store, path, (message) => process.stderr.write(`${message}\n`));
      for (const issue of result.fixed) out(`${describeMetadataIssue(issue)}\n`);
      if (result.narSize) out(`'${result.path}': recorded NAR size ${result.narSize.from} corrected to ${result.narSize.to}\n`);
      if (result.fixed.length === 0 && !result.narSize) out(`'${result.path}': nothing to repair\n`);
    }
  } finally {
    store.close();
  }
}

export function registerVerify(cli: CAC): void {
  withStoreOptions(
    cli
      .command("verify", "Check the store: every valid path present, canonical metadata, and with --check-contents the recorded hashes (nix-store --verify)")
      .option("--check-contents", "Also re-hash every object and every .links entry (slow)")
      .option("--repair", "Fix what can be fixed: metadata, .links entries, recorded NAR sizes")
      .option("--no-metadata", "Skip the canonical metadata check (as nix-store --verify does)")
      .option("--json", "Print the report as JSON"),
  ).action(verify);
  withStoreOptions(
    cli.command("verify-path <...paths>", "Check that paths are valid and have their recorded NAR hash (nix-store --verify-path)").option("--json", "Print one JSON object per path"),
  ).action(verifyPaths);
  withStoreOptions(
    cli.command("repair-path <...paths>", "Repair paths in place: canonical metadata and recorded NAR size; other contents cannot be repaired yet"),
  ).action(repairPaths);
}
