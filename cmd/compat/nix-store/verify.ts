/**
 * nix-store --verify [--check-contents] [--repair], --verify-path and
 * --repair-path, with Nix 2.8's messages on stderr and its exit codes:
 * --verify exits 1 ("not all store errors were fixed") when Nix would have
 * found errors, --verify-path exits 1 when a path's hash differs.
 *
 * As in Nix, --verify does not look at metadata; with --repair it also makes
 * every object canonical (beyond Nix) and says what it changed.
 */
import { UsageError } from "../../../internal/errors.ts";
import type { LocalStore } from "../../../internal/store/local-store.ts";
import { checkPath, repairPath as repairOne } from "../../../internal/store/verify-path.ts";
import { CONTENT_REPAIR_UNAVAILABLE, type VerifyEvent, type VerifyPhase, type VerifyProblem } from "../../../internal/store/verify-report.ts";
import { verifyStore } from "../../../internal/store/verify.ts";
import { InvalidPathError, StoreError } from "../../../internal/store/errors.ts";
import { describeMetadataIssue } from "../../../internal/store/canonicalise.ts";
import { storePathArgument } from "../../store/path-info.ts";
import { openStore } from "../../store-options.ts";
import { type NixStoreInvocation, storeFlagsOf } from "./operations.ts";

const PHASE_MESSAGE: Partial<Record<VerifyPhase, string>> = {
  reading: "reading the Nix store...",
  existence: "checking path existence...",
  links: "checking link hashes...",
  contents: "checking store hashes...",
};

function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** How Nix prints a finding: printError (no prefix) for what it detects itself, logError for exceptions. */
function printProblem(problem: VerifyProblem, repair: boolean): void {
  switch (problem.kind) {
    case "disappeared":
    case "nar-size":
    case "missing-hash":
      return; // printed as information when it happened
    case "missing":
    case "modified":
      say(problem.detail);
      // Nix logs a failed repair of a missing path as a warning, of a modified one as an error.
      if (repair) say(`${problem.kind === "missing" ? "warning" : "error"}: cannot repair path '${problem.path}': ${CONTENT_REPAIR_UNAVAILABLE}`);
      return;
    case "bad-record":
      say(`error: ${problem.detail}`);
      return;
    case "link-modified":
      say(problem.detail);
      if (problem.notRepaired) say(`error: ${problem.notRepaired}`);
      return;
    case "unreadable":
    case "unsupported-type":
      say(`error: ${problem.detail}`);
      return;
    default:
      // Metadata (only checked with --repair).
      say(problem.repaired ? `repaired: ${problem.detail}` : `error: ${problem.detail}${problem.notRepaired ? `: ${problem.notRepaired}` : ""}`);
  }
}

function hasFlag(invocation: NixStoreInvocation, flag: string): boolean {
  return invocation.flags.includes(flag) || invocation.globals.has(flag);
}

export function verify(invocation: NixStoreInvocation): number {
  if (invocation.operands.length > 0) throw new UsageError("no arguments expected");
  for (const flag of invocation.flags) if (flag !== "--check-contents" && flag !== "--repair") throw new UsageError(`unknown flag '${flag}'`);
  const repair = hasFlag(invocation, "--repair");
  const store = openStore(storeFlagsOf(invocation), "write");
  try {
    let errors = false;
    const onEvent = (event: VerifyEvent): void => {
      if (event.type === "phase") {
        const message = PHASE_MESSAGE[event.phase];
        if (message) say(message);
      } else if (event.type === "info" || event.type === "waiting") say(event.message);
      else if (event.type === "problem") {
        printProblem(event.problem, repair);
        if (event.problem.nixError && !event.problem.repaired) errors = true;
      }
    };
    verifyStore(store, { checkContents: invocation.flags.includes("--check-contents"), repair, checkMetadata: repair, onEvent });
    if (errors) {
      say("warning: not all store errors were fixed");
      return 1;
    }
    return 0;
  } finally {
    store.close();
  }
}

function paths(store: LocalStore, invocation: NixStoreInvocation) {
  if (invocation.flags.length > 0) throw new UsageError("no flags expected");
  return invocation.operands.map((arg) => storePathArgument(store, arg));
}

export function verifyPath(invocation: NixStoreInvocation): number {
  const store = openStore(storeFlagsOf(invocation), "read");
  try {
    let status = 0;
    for (const path of paths(store, invocation)) {
      const check = checkPath(store, path);
      if (check.status === "invalid") throw new InvalidPathError(store.print(path));
      if (check.status === "unreadable") throw new StoreError(check.detail!);
      if (check.status === "modified") {
        say(check.detail!);
        status = 1;
      }
    }
    return status;
  } finally {
    store.close();
  }
}

export function repairPath(invocation: NixStoreInvocation): void {
  const store = openStore(storeFlagsOf(invocation), "write");
  try {
    for (const path of paths(store, invocation)) {
      const result = repairOne(store, path, say);
      for (const issue of result.fixed) say(`repaired: ${describeMetadataIssue(issue)}`);
      if (result.narSize) say(`repaired: recorded NAR size of '${result.path}' corrected from ${result.narSize.from} to ${result.narSize.to}`);
    }
  } finally {
    store.close();
  }
}
