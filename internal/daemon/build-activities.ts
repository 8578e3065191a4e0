/**
 * The activities and results a 2.8 daemon sends while it realises paths
 * (worker-protocol.md 5.4), as its Worker produces them: three activities
 * for the whole run (realise, builds, copy paths), a progress report of
 * four results whenever a goal is created, starts, or finishes, a debug
 * activity around the query for missing paths, and per build an activity
 * (level info) carrying the builder's log lines. Only the counters are
 * kept here; what happens when is decided by build-goals.ts.
 */
import { ActivityType, ResultType, Verbosity } from "../wire/worker-protocol.ts";
import type { Logger } from "./logger.ts";

/** The debug-level activity around Store::queryMissing (sent whatever the client's verbosity). */
export function queryingMissingPaths(logger: Logger): void {
  logger.stopActivity(logger.startActivity(Verbosity.debug, ActivityType.unknown, "querying info about missing paths"));
}

export class WorkerActivities {
  /** Derivation goals that exist and are not done (MaintainCount in Nix). */
  expectedBuilds = 0;
  doneBuilds = 0;
  runningBuilds = 0;
  failedBuilds = 0;
  /** Substitution goals that exist (they count until they are destroyed). */
  expectedSubstitutions = 0;
  private readonly realise: bigint;
  private readonly builds: bigint;
  private readonly copyPaths: bigint;
  private finished = false;

  constructor(private readonly logger: Logger) {
    this.realise = logger.startActivity(Verbosity.error, ActivityType.realise, "");
    this.builds = logger.startActivity(Verbosity.error, ActivityType.builds, "");
    this.copyPaths = logger.startActivity(Verbosity.error, ActivityType.copyPaths, "");
  }

  /** Worker::updateProgress: builds and substitutions, then the expected download and NAR sizes (none). */
  update(): void {
    if (this.finished) return;
    this.logger.result(this.builds, ResultType.progress, [this.doneBuilds, this.expectedBuilds + this.doneBuilds, this.runningBuilds, this.failedBuilds]);
    this.logger.result(this.copyPaths, ResultType.progress, [0, this.expectedSubstitutions, 0, 0]);
    this.logger.result(this.realise, ResultType.setExpected, [ActivityType.fileTransfer, 0]);
    this.logger.result(this.realise, ResultType.setExpected, [ActivityType.copyPath, 0]);
  }

  /** Store::queryMissing's debug activity, which the worker runs before its first goal. */
  queryingMissingPaths(): void {
    queryingMissingPaths(this.logger);
  }

  /** A builder starts: its activity, then progress; the id takes its log lines. */
  buildStarted(drvPath: string, mode: "normal" | "check" | "repair"): bigint {
    const verb = mode === "repair" ? "repairing outputs of" : mode === "check" ? "checking outputs of" : "building";
    const id = this.logger.startActivity(Verbosity.info, ActivityType.build, `${verb} '${drvPath}'`, [drvPath, "", 1, 1]);
    this.runningBuilds++;
    this.update();
    return id;
  }

  logLine(build: bigint, line: string): void {
    this.logger.result(build, ResultType.buildLogLine, [line]);
  }

  buildStopped(build: bigint): void {
    this.logger.stopActivity(build);
  }

  /** The worker is gone: its three activities stop, innermost first. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.logger.stopActivity(this.copyPaths);
    this.logger.stopActivity(this.builds);
    this.logger.stopActivity(this.realise);
  }
}
