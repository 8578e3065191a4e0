/**
 * One client's request to realise paths (BuildPaths, BuildPathsWithResults,
 * BuildDerivation), served as a 2.8 daemon serves it: the goals are made
 * and explored (goals.ts), the derivations that need building are built by
 * the scheduler with the connection's settings, and the builds' starts,
 * log lines and ends are reported to the client as they happen. Builds of
 * different connections run side by side on the event loop. When the
 * client hangs up, or a goal fails without keep-going, running builders
 * are killed and nothing more is started.
 */
import { BuildError, BuilderFailedError, failureExitStatus, hint } from "../build/errors.ts";
import { type BuildMode, buildDerivation } from "../build/derivation-build.ts";
import { type BuildEvent, realise } from "../build/scheduler.ts";
import type { Derivation } from "../derivation/types.ts";
import type { StorePath } from "../store-path/store-path.ts";
import { BuildStatus, isSuccess } from "../wire/worker-protocol.ts";
import type { WireBuildResult } from "../wire/worker-types.ts";
import { WorkerActivities } from "./build-activities.ts";
import type { Connection } from "./connection.ts";
import { type DerivedPath, printDerivedPath } from "./derived-path.ts";
import { type DerivationGoal, type Goal, type GoalFailure, GoalWorker, byKey } from "./goals.ts";
import { type HashCache, builtOutputs } from "./realisations.ts";

/** BuildResult status for a failed build, by how it failed (Nix's buildDone). */
function statusOf(error: unknown): number {
  const kind = error instanceof BuildError ? error.kind : "other";
  switch (kind) {
    case "builder-failed":
      return BuildStatus.PermanentFailure;
    case "timed-out":
      return BuildStatus.TimedOut;
    case "log-limit":
      return BuildStatus.LogLimitExceeded;
    case "hash-mismatch":
    case "output-rejected":
      return BuildStatus.OutputRejected;
    case "not-deterministic":
      return BuildStatus.NotDeterministic;
    case "transient":
      return BuildStatus.TransientFailure;
    default:
      return BuildStatus.MiscFailure;
  }
}

/** The failure as nix-daemon words it: limits name the goal, a failed builder brings its log tail. */
function failureOf(c: Connection, goal: DerivationGoal, error: unknown): GoalFailure {
  if (error instanceof BuilderFailedError && error.limit) {
    const { limit, value } = error.limit;
    const text =
      limit === "max-build-log-size"
        ? hint`${goal.name} killed after writing more than ${value} bytes of log output`
        : limit === "timeout"
          ? hint`${goal.name} timed out after ${value} seconds`
          : hint`${goal.name} timed out after ${value} seconds of silence`;
    return { styled: text.styled, cause: error };
  }
  if (error instanceof BuilderFailedError && error.logTail.length > 0) {
    const drv = c.store.print(goal.drvPath);
    const tail = error.logTail.map((line) => `> ${line}\n`).join("");
    return { styled: `${error.styled};\nlast ${error.logTail.length} log lines:\n${tail}For full logs, run '\x1b[1mnix log ${drv}\x1b[0m'.`, cause: error };
  }
  if (error instanceof BuildError) return { styled: error.styled, cause: error };
  return { styled: error instanceof Error ? error.message : String(error), cause: error };
}

const seconds = () => Math.floor(Date.now() / 1000);

/**
 * Output for the client above which builders' logs are left unread: a
 * client that reads slowly blocks its builders (as a 2.8 daemon's blocking
 * writes do) instead of the daemon buffering their logs.
 */
const CLIENT_BACKLOG_LIMIT = 1 << 20;

export class BuildSession {
  readonly worker: GoalWorker;
  private readonly stop = new AbortController();
  private readonly started = new Map<string, number>();
  private readonly cache: HashCache = new Map();
  /** Each request with the goal that serves it. */
  private readonly requests: Array<{ path: string; goal: Goal }> = [];
  private readonly clientBehind = () => this.c.out.backlog > CLIENT_BACKLOG_LIMIT;
  private readonly hungUp = () => this.stop.abort();
  /** What went wrong while reporting a build (a bug, or an unreadable .drv): it ends the run. */
  private reportingError: unknown;

  constructor(
    private readonly c: Connection,
    private readonly mode: BuildMode,
  ) {
    const settings = c.settings;
    this.worker = new GoalWorker(c.store, new WorkerActivities(c.logger), {
      keepGoing: settings.bool("keep-going"),
      useSubstitutes: settings.bool("substitute"),
      logError: (styled) => c.logger.logError(styled),
    });
    if (c.hangUp.aborted) this.stop.abort();
    else c.hangUp.addEventListener("abort", this.hungUp, { once: true });
  }

  /** Makes the goals of a BuildPaths request, in request order, and realises them. */
  async realise(paths: readonly DerivedPath[]): Promise<void> {
    for (const wanted of paths) {
      const goal =
        wanted.kind === "opaque"
          ? this.worker.substitutionGoal(wanted.path, this.mode === "repair")
          : this.worker.derivationGoal(wanted.drvPath, wanted.outputs, this.mode);
      this.worker.addTop(goal);
      this.requests.push({ path: printDerivedPath(this.c.store.storeDir, wanted), goal });
    }
    this.worker.activities.queryingMissingPaths();
    this.worker.run();
    const pending = [...this.worker.topGoals].filter((g): g is DerivationGoal => g.kind === "derivation");
    if (pending.length === 0) return;
    const settings = this.c.settings;
    await realise(
      this.c.store,
      pending.map((g) => (g.wanted === undefined ? { drvPath: g.drvPath } : { drvPath: g.drvPath, outputs: g.wanted })),
      {
        maxJobs: settings.string("max-jobs") === "auto" ? navigator.hardwareConcurrency : settings.int("max-jobs"),
        keepGoing: settings.bool("keep-going"),
        keepFailed: settings.bool("keep-failed"),
        mode: this.mode,
        signal: this.stop.signal,
        onEvent: (event) => this.report(event),
        paused: this.clientBehind,
        priority: (drvPath) => this.worker.goalOf(drvPath)?.readySeq ?? Number.POSITIVE_INFINITY,
      },
    );
    if (this.reportingError !== undefined) throw this.reportingError;
  }

  /** BuildDerivation: one goal for a derivation sent inline, built in place. */
  async realiseBasic(drvPath: StorePath, drv: Derivation): Promise<DerivationGoal> {
    const goal = this.worker.derivationGoal(drvPath, undefined, this.mode, drv);
    this.worker.addTop(goal);
    this.worker.activities.queryingMissingPaths();
    this.worker.run();
    if (goal.exit !== "busy" || this.worker.topGoals.size === 0) return goal;
    this.c.store.tempRoots.add(this.c.store.print(drvPath));
    try {
      const result = await buildDerivation(this.c.store, drvPath, {
        mode: this.mode,
        keepFailed: this.c.settings.bool("keep-failed"),
        derivation: drv,
        signal: this.stop.signal,
        paused: this.clientBehind,
        onStart: () => this.report({ type: "started", drvPath }),
        onLogLine: (line) => this.report({ type: "log", drvPath, line }),
      });
      this.report({ type: result.built ? "built" : "valid", drvPath });
    } catch (error) {
      if (!(error instanceof BuildError && error.kind === "cancelled")) this.report({ type: "failed", drvPath, error });
    }
    if (this.reportingError !== undefined) throw this.reportingError;
    return goal;
  }

  /** Scheduler events become goal changes; a failure here stops the run instead of the scheduler. */
  private report(event: BuildEvent): void {
    try {
      this.onEvent(event);
    } catch (error) {
      this.reportingError ??= error;
      this.stop.abort();
    }
  }

  private onEvent(event: BuildEvent): void {
    if (event.type === "planned" || this.stop.signal.aborted) return;
    const worker = this.worker;
    const known = worker.goalOf(event.drvPath);
    if (!known && event.type === "log") return;
    const goal = known ?? worker.adopt(event.drvPath, this.mode);
    const key = event.drvPath.baseName;
    switch (event.type) {
      case "started":
        this.started.set(key, seconds());
        goal.state = "building";
        goal.activity = worker.activities.buildStarted(this.c.store.print(event.drvPath), goal.mode);
        break;
      case "log":
        if (goal.activity !== undefined) worker.activities.logLine(goal.activity, event.line);
        return;
      case "built":
        worker.done(goal, BuildStatus.Built, undefined, { timesBuilt: 1, start: this.started.get(key) ?? seconds(), stop: seconds() });
        break;
      case "valid":
        worker.done(goal, BuildStatus.AlreadyValid);
        break;
      case "failed": {
        const status = statusOf(event.error);
        const start = this.started.get(key) ?? 0;
        // Nix kills a timed-out or too chatty builder without counting a build or a stop time.
        const stopped = status === BuildStatus.TimedOut || status === BuildStatus.LogLimitExceeded;
        const times = stopped ? { timesBuilt: 0, start, stop: 0 } : { timesBuilt: start > 0 ? 1 : 0, start, stop: start > 0 ? seconds() : 0 };
        worker.done(goal, status, failureOf(this.c, goal, event.error), times);
        break;
      }
    }
    worker.run();
    if (worker.topGoals.size === 0) this.stop.abort();
  }

  /** Each distinct goal's result, in goal order (paths first, then derivations by name), echoing its first request. */
  results(): Array<{ path: string; result: WireBuildResult }> {
    const seen = new Set<Goal>();
    const distinct = this.requests.filter(({ goal }) => !seen.has(goal) && seen.add(goal));
    return distinct
      .sort((a, b) => byKey(a.goal, b.goal))
      .map(({ path, goal }) => ({ path, result: this.resultOf(goal) }));
  }

  resultOf(goal: Goal): WireBuildResult {
    const r = goal.result;
    const outputs =
      goal.kind === "derivation" && isSuccess(r.status) && goal.drv
        ? builtOutputs(this.c.store, goal.drvPath, goal.drv, goal.basic ? undefined : goal.wanted, this.cache)
        : new Map<string, string>();
    return { ...r, isNonDeterministic: false, builtOutputs: outputs };
  }

  /**
   * BuildPaths' error, as Store::buildPaths makes it: one failed goal gives
   * its own error; several give "build of '…', '…' failed" (their errors
   * logged). The status is the run's exit status for old clients.
   */
  failure(): BuildError | undefined {
    const goals = [...this.worker.requested].sort(byKey);
    const failed = goals.filter((g) => g.exit !== "success");
    let first: GoalFailure | undefined;
    for (const goal of goals) {
      if (!goal.failure) continue;
      if (first) this.c.logger.logError(goal.failure.styled);
      else first = goal.failure;
    }
    if (failed.length === 0) return undefined;
    let error: BuildError;
    if (failed.length === 1 && first) {
      error = new BuildError({ plain: first.styled, styled: first.styled });
    } else {
      if (first) this.c.logger.logError(first.styled);
      const paths = failed.map((g) => this.c.store.print(g.kind === "derivation" ? g.drvPath : g.path)).sort();
      error = new BuildError(hint`build of ${paths.map((p) => `'${p}'`).join(", ")} failed`);
    }
    error.exitStatus = failureExitStatus(this.worker.failures);
    return error;
  }

  /** The end of the run: the remaining activities stop. */
  close(): void {
    this.c.hangUp.removeEventListener("abort", this.hungUp);
    this.stop.abort();
    this.worker.close();
  }
}
