/**
 * What a client hears while the daemon verifies the store: the lines
 * nix-daemon 2.8 sends for the same findings (vector nix-store-verify),
 * worded as `nix-store --verify` prints them when run locally
 * (cmd/compat/nix-store/verify.ts): phases and repairs as information,
 * findings Nix detects itself as plain error-level lines, exceptions as
 * rendered errors.
 */
import { CONTENT_REPAIR_UNAVAILABLE, type VerifyEvent, type VerifyPhase } from "../../store/verify-report.ts";
import { Verbosity } from "../../wire/worker-protocol.ts";
import type { Logger } from "../logger.ts";

const PHASE_MESSAGE: Partial<Record<VerifyPhase, string>> = {
  reading: "reading the Nix store...",
  existence: "checking path existence...",
  links: "checking link hashes...",
  contents: "checking store hashes...",
};

/** Sends what `event` says to the client; true when it is an error Nix would count (the reply's errorsFound). */
export function reportVerifyProblem(logger: Logger, event: VerifyEvent, repair: boolean): boolean {
  if (event.type === "phase") {
    const message = PHASE_MESSAGE[event.phase];
    if (message) logger.log(Verbosity.info, message);
    return false;
  }
  if (event.type === "info" || event.type === "waiting") {
    logger.log(Verbosity.info, event.message);
    return false;
  }
  if (event.type !== "problem") return false;
  const problem = event.problem;
  switch (problem.kind) {
    case "disappeared":
    case "nar-size":
    case "missing-hash":
      break; // told as information when it happened
    case "missing":
    case "modified":
      logger.log(Verbosity.error, problem.detail);
      if (repair) {
        // Nix logs a failed repair of a missing path as a warning, of a modified one as an error.
        const message = `cannot repair path '${problem.path}': ${CONTENT_REPAIR_UNAVAILABLE}`;
        if (problem.kind === "missing") logger.warn(message);
        else logger.logError(message);
      }
      break;
    case "link-modified":
      logger.log(Verbosity.error, problem.detail);
      if (problem.notRepaired) logger.logError(problem.notRepaired);
      break;
    case "bad-record":
    case "unreadable":
    case "unsupported-type":
      logger.logError(problem.detail);
      break;
    default:
      // Metadata: only checked with repair.
      if (problem.repaired) logger.log(Verbosity.info, `repaired: ${problem.detail}`);
      else logger.logError(`${problem.detail}${problem.notRepaired ? `: ${problem.notRepaired}` : ""}`);
  }
  return problem.nixError && !problem.repaired;
}
