/**
 * Nix 2.8's Worker, as far as a client can see it: goals for derivations
 * and for paths, woken in rounds (each round in goal-key order: paths
 * "a$name$path" before derivations "b$name$path"), whose creation and
 * completion drive the progress results (build-activities.ts), whose
 * failures are logged when another goal waits on them, and whose results
 * are what BuildPathsWithResults returns. Substitution always fails: bunix
 * has no substituters, so a derivation goal tries its outputs' substitution
 * for two rounds and then waits for its inputs. Actual builds are not done
 * here: a derivation that gets to "ready" is built by the caller
 * (build-session.ts), which reports back with started/built/failed.
 */
import { readStoreDerivation, outputPaths } from "../build/inputs.ts";
import { BuildError, hint } from "../build/errors.ts";
import type { BuildMode } from "../build/derivation-build.ts";
import type { Derivation } from "../derivation/types.ts";
import type { StorePath } from "../store-path/store-path.ts";
import type { LocalStore } from "../store/local-store.ts";
import { BuildStatus, isSuccess } from "../wire/worker-protocol.ts";
import type { WorkerActivities } from "./build-activities.ts";

type Exit = "busy" | "success" | "failed" | "no-substituters";

/** A failure as the client sees it: Nix's highlighted message; `cause` counts for the exit status. */
export interface GoalFailure {
  styled: string;
  cause?: unknown;
}

export interface GoalResult {
  status: number;
  errorMsg: string;
  timesBuilt: number;
  startTime: number;
  stopTime: number;
}

abstract class BaseGoal {
  exit: Exit = "busy";
  readonly waiters = new Set<DerivationGoal>();
  /** Nix's default result: what a goal that never finished reports. */
  result: GoalResult = { status: BuildStatus.MiscFailure, errorMsg: "", timesBuilt: 0, startTime: 0, stopTime: 0 };
  /** The error of a goal no other goal waited for (BuildPaths reports it). */
  failure?: GoalFailure;
  constructor(readonly key: string) {}
}

export class SubstitutionGoal extends BaseGoal {
  readonly kind = "substitution";
  constructor(
    readonly path: StorePath,
    readonly repair: boolean,
    storeDir: string,
  ) {
    super(`a$${path.name}$${path.in(storeDir)}`);
  }
}

type DerivationState = "init" | "load" | "have" | "substituted" | "inputs" | "ready" | "building";

export class DerivationGoal extends BaseGoal {
  readonly kind = "derivation";
  state: DerivationState;
  readonly waitees = new Set<Goal>();
  nrFailed = 0;
  drv?: Derivation;
  /** Counted in expectedBuilds until done. */
  counted = true;
  /** The builder's activity while it runs. */
  activity?: bigint;
  /** When it got ready to build, relative to the others (who asks for a build slot first). */
  readySeq?: number;
  /** What it was created for, for "building of '…' from .drv file". */
  readonly name: string;

  constructor(
    readonly drvPath: StorePath,
    /** Undefined: all outputs. */
    public wanted: string[] | undefined,
    readonly mode: BuildMode,
    storeDir: string,
    /** A derivation sent inline (BuildDerivation): no .drv file, no input derivations. */
    readonly basic?: Derivation,
  ) {
    super(`b$${drvPath.name}$${drvPath.in(storeDir)}`);
    this.state = basic ? "have" : "init";
    if (basic) this.drv = basic;
    const outputs = wanted ?? (basic ? [...basic.outputs.keys()] : undefined);
    const spec = outputs === undefined ? "*" : outputs.join(",");
    this.name = `building of '${drvPath.in(storeDir)}!${spec}' from ${basic ? "in-memory derivation" : ".drv file"}`;
  }

  addWanted(outputs: readonly string[] | undefined): void {
    if (this.wanted === undefined) return;
    this.wanted = outputs === undefined ? undefined : [...new Set([...this.wanted, ...outputs])].sort();
  }
}

export type Goal = SubstitutionGoal | DerivationGoal;

export interface GoalWorkerOptions {
  keepGoing: boolean;
  useSubstitutes: boolean;
  /** logError: a failure another goal waited on, as a log line. */
  logError: (styled: string) => void;
}

export const byKey = (a: Goal, b: Goal) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Whether the derivation lets substitutes be used for it (allowSubstitutes). */
function substitutesAllowed(drv: Derivation): boolean {
  const json = drv.env.get("__json");
  if (json !== undefined) {
    try {
      return (JSON.parse(json) as { allowSubstitutes?: unknown }).allowSubstitutes !== false;
    } catch {
      return true; // the build itself will say what is wrong with it
    }
  }
  const value = drv.env.get("allowSubstitutes");
  return value === undefined || value === "1";
}

export class GoalWorker {
  readonly topGoals = new Set<Goal>();
  /** Every goal asked for (topGoals loses them as they finish); their build activities stop last. */
  readonly requested = new Set<Goal>();
  /** Build failures, for the exit status. */
  readonly failures: unknown[] = [];
  private readonly derivations = new Map<string, DerivationGoal>();
  private readonly substitutions = new Map<string, SubstitutionGoal>();
  private awake = new Set<Goal>();
  /** Substitution goals finished this round: destroyed (and uncounted) when it ends. */
  private dying = 0;
  private readyCount = 0;

  constructor(
    private readonly store: LocalStore,
    readonly activities: WorkerActivities,
    private readonly options: GoalWorkerOptions,
  ) {}

  /** A top-level goal, as Store::buildPaths makes them; the same derivation twice is one goal. */
  addTop(goal: Goal): Goal {
    this.topGoals.add(goal);
    this.requested.add(goal);
    return goal;
  }

  derivationGoal(drvPath: StorePath, wanted: readonly string[] | undefined, mode: BuildMode, basic?: Derivation): DerivationGoal {
    const existing = this.derivations.get(drvPath.baseName);
    if (existing) {
      existing.addWanted(wanted);
      return existing;
    }
    const goal = new DerivationGoal(drvPath, wanted === undefined ? undefined : [...wanted], mode, this.store.storeDir, basic);
    this.derivations.set(drvPath.baseName, goal);
    this.activities.expectedBuilds++;
    this.activities.update();
    this.awake.add(goal);
    return goal;
  }

  substitutionGoal(path: StorePath, repair = false): SubstitutionGoal {
    const existing = this.substitutions.get(path.baseName);
    if (existing) return existing;
    const goal = new SubstitutionGoal(path, repair, this.store.storeDir);
    this.substitutions.set(path.baseName, goal);
    this.activities.expectedSubstitutions++;
    this.awake.add(goal);
    return goal;
  }

  /** The goal of a derivation, if it has one. */
  goalOf(drvPath: StorePath): DerivationGoal | undefined {
    return this.derivations.get(drvPath.baseName);
  }

  /** A goal for a build the scheduler found necessary on its own (repairing a closure): it is ready at once. */
  adopt(drvPath: StorePath, mode: BuildMode): DerivationGoal {
    const goal = this.goalOf(drvPath) ?? this.derivationGoal(drvPath, undefined, mode);
    this.awake.delete(goal);
    goal.state = "ready";
    return goal;
  }

  /** Runs rounds until no goal is awake (the rest wait for builds) or nothing is wanted any more. */
  run(): void {
    while (this.awake.size > 0 && this.topGoals.size > 0) {
      const round = [...this.awake].sort(byKey);
      this.awake = new Set();
      for (const goal of round) {
        if (goal.exit !== "busy") continue;
        if (goal.kind === "substitution") this.substitute(goal);
        else this.step(goal);
        if (this.topGoals.size === 0) break;
      }
      this.activities.expectedSubstitutions -= this.dying;
      this.dying = 0;
    }
  }

  private substitute(goal: SubstitutionGoal): void {
    this.addTempRoot(goal.path);
    if (!goal.repair && this.store.isValid(goal.path)) {
      goal.result = { ...goal.result, status: BuildStatus.AlreadyValid };
      return this.finish(goal, "success");
    }
    const printed = this.store.print(goal.path);
    goal.result = { ...goal.result, status: BuildStatus.NoSubstituters, errorMsg: `path '${printed}' is required, but there is no substituter that can build it` };
    this.finish(goal, "no-substituters");
  }

  private step(goal: DerivationGoal): void {
    switch (goal.state) {
      case "init":
        if (goal.mode === "normal" && this.store.isValid(goal.drvPath)) return this.load(goal);
        this.wait(goal, this.substitutionGoal(goal.drvPath));
        goal.state = "load";
        return;
      case "load":
        return this.load(goal);
      case "have":
        return this.haveDerivation(goal);
      case "substituted":
        return this.outputsSubstitutionTried(goal);
      case "inputs":
        return this.inputsRealised(goal);
      default:
        return;
    }
  }

  private load(goal: DerivationGoal): void {
    if (goal.nrFailed > 0) return this.done(goal, BuildStatus.MiscFailure, { styled: hint`cannot build missing derivation '${this.store.print(goal.drvPath)}'`.styled });
    // Kept from the collector while it is used, as Nix does.
    this.addTempRoot(goal.drvPath);
    goal.drv = readStoreDerivation(this.store, goal.drvPath);
    this.haveDerivation(goal);
  }

  private addTempRoot(path: StorePath): void {
    this.store.tempRoots.add(this.store.print(path));
  }

  /** The paths of the outputs the goal is after. */
  private wantedPaths(goal: DerivationGoal): StorePath[] {
    const outputs = outputPaths(this.store, goal.drv!, goal.drvPath);
    return [...outputs].filter(([name]) => goal.wanted === undefined || goal.wanted.includes(name)).map(([, path]) => path);
  }

  private haveDerivation(goal: DerivationGoal): void {
    for (const path of outputPaths(this.store, goal.drv!, goal.drvPath).values()) this.addTempRoot(path);
    const paths = this.wantedPaths(goal);
    if (goal.mode === "normal" && paths.every((p) => this.store.isValid(p))) return this.done(goal, BuildStatus.AlreadyValid);
    if (this.options.useSubstitutes && substitutesAllowed(goal.drv!)) {
      for (const path of paths) this.wait(goal, this.substitutionGoal(path, goal.mode === "repair"));
    }
    goal.state = "substituted";
    if (goal.waitees.size === 0) this.outputsSubstitutionTried(goal);
  }

  private outputsSubstitutionTried(goal: DerivationGoal): void {
    goal.nrFailed = 0;
    const invalid = this.wantedPaths(goal).filter((p) => !this.store.isValid(p)).length;
    if (goal.mode === "normal" && invalid === 0) return this.done(goal, BuildStatus.Substituted);
    if (goal.mode === "check" && invalid > 0) {
      throw new BuildError(hint`some outputs of '${this.store.print(goal.drvPath)}' are not valid, so checking is not possible`);
    }
    // Gave up on substitution: the inputs must be there first.
    if (!goal.basic) {
      for (const [input, names] of goal.drv!.inputDrvs) this.wait(goal, this.derivationGoal(this.store.parse(input), names, goal.mode === "repair" ? "repair" : "normal"));
    }
    for (const source of goal.drv!.inputSrcs) {
      const path = this.store.parse(source);
      if (this.store.isValid(path)) continue;
      if (!this.options.useSubstitutes) throw new BuildError(hint`dependency '${source}' of '${this.store.print(goal.drvPath)}' does not exist, and substitution is disabled`);
      this.wait(goal, this.substitutionGoal(path));
    }
    goal.state = "inputs";
    if (goal.waitees.size === 0) this.inputsRealised(goal);
  }

  private inputsRealised(goal: DerivationGoal): void {
    if (goal.nrFailed > 0) {
      const drv = this.store.print(goal.drvPath);
      if (goal.basic) throw new BuildError(hint`some dependencies of '${drv}' are missing`);
      return this.done(goal, BuildStatus.DependencyFailed, { styled: hint`${goal.nrFailed} dependencies of derivation '${drv}' failed to build`.styled });
    }
    goal.state = "ready";
    goal.readySeq = this.readyCount++;
  }

  private wait(goal: DerivationGoal, waitee: Goal): void {
    goal.waitees.add(waitee);
    waitee.waiters.add(goal);
  }

  /** DerivationGoal::done: counters, progress, then the waiters learn of it; the build's activity stops last. */
  done(goal: DerivationGoal, status: number, failure?: GoalFailure, times?: { timesBuilt: number; start: number; stop: number }): void {
    goal.result = {
      status,
      errorMsg: failure ? `\x1b[0m${failure.styled}` : "",
      timesBuilt: times?.timesBuilt ?? 0,
      startTime: times?.start ?? 0,
      stopTime: times?.stop ?? 0,
    };
    const a = this.activities;
    if (goal.counted) a.expectedBuilds--;
    goal.counted = false;
    if (goal.state === "building") a.runningBuilds--;
    if (status === BuildStatus.Built) a.doneBuilds++;
    else if (!isSuccess(status) && status !== BuildStatus.DependencyFailed) a.failedBuilds++;
    if (failure?.cause !== undefined) this.failures.push(failure.cause);
    a.update();
    this.finish(goal, isSuccess(status) ? "success" : "failed", failure);
    // A goal ends with its last reference: at once for inputs, with the request for the goals asked for.
    if (goal.activity !== undefined && !this.requested.has(goal)) {
      a.buildStopped(goal.activity);
      goal.activity = undefined;
    }
  }

  /** The end of the run: remaining build activities stop (requested goals last, in reverse key order), then the worker's. */
  close(): void {
    const requested = [...this.requested].sort(byKey).reverse();
    const others = [...this.derivations.values()].filter((g) => !this.requested.has(g));
    for (const goal of [...others, ...requested]) {
      if (goal.kind === "derivation" && goal.activity !== undefined) this.activities.buildStopped(goal.activity);
      if (goal.kind === "derivation") goal.activity = undefined;
    }
    this.activities.finish();
  }

  /** Goal::amDone: the error is logged if someone waited, else kept; waiters are told; a failed top goal ends the run. */
  private finish(goal: Goal, exit: Exit, failure?: GoalFailure): void {
    goal.exit = exit;
    if (failure) {
      if (goal.waiters.size > 0) this.options.logError(failure.styled);
      else goal.failure = failure;
    }
    for (const waiter of goal.waiters) this.waiteeDone(waiter, goal, exit);
    goal.waiters.clear();
    if (goal.kind === "derivation") {
      if (this.derivations.get(goal.drvPath.baseName) === goal) this.derivations.delete(goal.drvPath.baseName);
    } else {
      if (this.substitutions.get(goal.path.baseName) === goal) this.substitutions.delete(goal.path.baseName);
      if (!this.requested.has(goal)) this.dying++;
    }
    if (this.topGoals.delete(goal) && exit === "failed" && !this.options.keepGoing) this.topGoals.clear();
  }

  private waiteeDone(waiter: DerivationGoal, goal: Goal, exit: Exit): void {
    waiter.waitees.delete(goal);
    if (exit !== "success") waiter.nrFailed++;
    if (waiter.waitees.size === 0 || (exit === "failed" && !this.options.keepGoing)) {
      for (const other of waiter.waitees) other.waiters.delete(waiter);
      waiter.waitees.clear();
      this.awake.add(waiter);
    }
  }
}
