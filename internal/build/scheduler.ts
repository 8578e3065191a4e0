/**
 * Realising derivations: find what must be built (a derivation is needed
 * when an output someone wants is not valid; its inputs are needed only
 * then; with repair, when one is not valid or its contents differ from the
 * record, and intact outputs get corrupt paths of their closure rebuilt),
 * and build in dependency order with up to `maxJobs` builds at once.
 * Without keep-going, the first failure stops new builds; running ones
 * finish. Other processes (bunix or Nix) may build the same paths at the
 * same time: output locks serialise them and the loser finds them valid.
 */
import { finishRemovals } from "../nar/restore.ts";
import type { StorePath } from "../store-path/store-path.ts";
import type { LocalStore } from "../store/local-store.ts";
import { type BuildMode, buildDerivation } from "./derivation-build.ts";
import { BuildError } from "./errors.ts";
import { outputPaths, readStoreDerivation } from "./inputs.ts";
import { requisites } from "../store/closure.ts";
import { checkPath } from "../store/verify-path.ts";

export interface BuildTarget {
  drvPath: StorePath;
  /** Output names, or undefined for all. */
  outputs?: readonly string[];
}

export type BuildEvent =
  | { type: "planned"; total: number }
  | { type: "started"; drvPath: StorePath }
  | { type: "built"; drvPath: StorePath }
  /** Its outputs were valid by the time it held their locks (another process built them). */
  | { type: "valid"; drvPath: StorePath }
  | { type: "failed"; drvPath: StorePath; error: unknown }
  | { type: "log"; drvPath: StorePath; line: string };

export interface RealiseOptions {
  maxJobs: number;
  keepGoing: boolean;
  keepFailed: boolean;
  /** Applies to the targets; their inputs are built normally. */
  mode: BuildMode;
  onEvent?: (event: BuildEvent) => void;
  /** Stops everything: no new builds, running builders killed, nothing of theirs registered. */
  signal?: AbortSignal;
  /** Which of the derivations ready to build starts first (lower first; by plan order otherwise). */
  priority?: (drvPath: StorePath) => number;
  /** While true builders' output is left unread (see BuildOptions.paused). */
  paused?: () => boolean;
}

/** What became of a derivation the plan needed; times are seconds since the epoch. */
export interface BuildOutcome {
  status: "built" | "valid" | "failed" | "cancelled";
  startTime: number;
  stopTime: number;
  error?: unknown;
}

export interface RealiseResult {
  /** Per target: output name -> path. */
  outputs: Array<Map<string, StorePath>>;
  failures: Array<{ drvPath: StorePath; error: unknown }>;
  /** By derivation base name, for every build that was attempted. */
  outcomes: Map<string, BuildOutcome>;
}

interface Node {
  drvPath: StorePath;
  inputs: Set<string>;
  dependents: Set<string>;
  mode: BuildMode;
}

/** Plans the derivations to build: base name -> node. */
function plan(store: LocalStore, targets: readonly BuildTarget[], mode: BuildMode): Map<string, Node> {
  const nodes = new Map<string, Node>();
  const visit = (drvPath: StorePath, wanted: readonly string[] | undefined, nodeMode: BuildMode): boolean => {
    const key = drvPath.baseName;
    const existing = nodes.get(key);
    if (existing) {
      if (nodeMode !== "normal") existing.mode = nodeMode;
      return true;
    }
    if (!store.isValid(drvPath)) throw new BuildError(`derivation '${store.print(drvPath)}' is not valid`);
    const drv = readStoreDerivation(store, drvPath);
    const outputs = outputPaths(store, drv, drvPath);
    for (const name of wanted ?? []) if (!outputs.has(name)) throw new BuildError(`derivation '${store.print(drvPath)}' does not have an output named '${name}'`);
    const relevant = wanted ? wanted.map((n) => outputs.get(n)!) : [...outputs.values()];
    if (nodeMode === "normal" && relevant.every((p) => store.isValid(p))) return false;
    if (nodeMode === "repair" && relevant.every((p) => checkPath(store, p).status === "ok")) {
      repairClosure(drvPath, relevant);
      return false;
    }
    const node: Node = { drvPath, inputs: new Set(), dependents: new Set(), mode: nodeMode };
    nodes.set(key, node);
    for (const src of drv.inputSrcs) {
      if (!store.isValid(store.parse(src))) throw new BuildError(`input source '${src}' of '${store.print(drvPath)}' is not valid (and cannot be substituted)`);
    }
    for (const [inputText, names] of drv.inputDrvs) {
      const input = store.parse(inputText);
      if (visit(input, names, nodeMode === "repair" ? "repair" : "normal")) {
        node.inputs.add(input.baseName);
        nodes.get(input.baseName)!.dependents.add(key);
      }
    }
    return true;
  };
  /** As Nix: outputs that are intact are kept; corrupt paths in their closure are rebuilt by their derivations. */
  const repairClosure = (drvPath: StorePath, outputs: readonly StorePath[]) => {
    const own = new Set(outputs.map((p) => p.baseName));
    const producers = new Map<string, StorePath>();
    for (const drv of requisites(store, [drvPath], false)) {
      if (drv.isDerivation()) for (const output of outputPaths(store, readStoreDerivation(store, drv), drv).values()) producers.set(output.baseName, drv);
    }
    for (const path of requisites(store, outputs, false)) {
      if (own.has(path.baseName) || checkPath(store, path).status === "ok") continue;
      const producer = producers.get(path.baseName);
      if (!producer) throw new BuildError(`cannot repair path '${store.print(path)}' in the output closure of '${store.print(drvPath)}': no derivation of it is known (and there are no substituters)`);
      visit(producer, undefined, "repair");
    }
  };
  for (const target of targets) visit(target.drvPath, target.outputs, mode);
  return nodes;
}

export async function realise(store: LocalStore, targets: readonly BuildTarget[], options: RealiseOptions): Promise<RealiseResult> {
  const nodes = plan(store, targets, options.mode);
  options.onEvent?.({ type: "planned", total: nodes.size });
  const failures: RealiseResult["failures"] = [];
  const outcomes = new Map<string, BuildOutcome>();
  const now = () => Math.floor(Date.now() / 1000);
  const blocked = new Set<string>();
  const done = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const rank = (n: Node) => options.priority?.(n.drvPath) ?? Number.POSITIVE_INFINITY;
  const ready = () =>
    [...nodes.values()]
      .filter((n) => !done.has(n.drvPath.baseName) && !running.has(n.drvPath.baseName) && !blocked.has(n.drvPath.baseName) && [...n.inputs].every((i) => done.has(i)))
      .sort((a, b) => rank(a) - rank(b));
  const block = (key: string) => {
    for (const dependent of nodes.get(key)!.dependents) {
      if (!blocked.has(dependent)) {
        blocked.add(dependent);
        block(dependent);
      }
    }
  };
  for (;;) {
    const stopping = (failures.length > 0 && !options.keepGoing) || options.signal?.aborted === true;
    if (!stopping) {
      for (const node of ready()) {
        if (running.size >= Math.max(1, options.maxJobs)) break;
        const key = node.drvPath.baseName;
        const outcome: BuildOutcome = { status: "built", startTime: now(), stopTime: 0 };
        const job = buildDerivation(store, node.drvPath, {
          mode: node.mode,
          keepFailed: options.keepFailed,
          signal: options.signal,
          paused: options.paused,
          onStart: () => {
            outcome.startTime = now();
            options.onEvent?.({ type: "started", drvPath: node.drvPath });
          },
          onLogLine: (line) => options.onEvent?.({ type: "log", drvPath: node.drvPath, line }),
        }).then(
          (result) => {
            done.add(key);
            outcome.stopTime = now();
            outcome.status = result.built ? "built" : "valid";
            outcomes.set(key, outcome);
            options.onEvent?.({ type: result.built ? "built" : "valid", drvPath: node.drvPath });
          },
          (error: unknown) => {
            outcome.stopTime = now();
            blocked.add(key);
            block(key);
            if (error instanceof BuildError && error.kind === "cancelled") {
              outcomes.set(key, { ...outcome, status: "cancelled", error });
              return;
            }
            outcomes.set(key, { ...outcome, status: "failed", error });
            failures.push({ drvPath: node.drvPath, error });
            options.onEvent?.({ type: "failed", drvPath: node.drvPath, error });
          },
        ).finally(() => running.delete(key));
        running.set(key, job);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  await finishRemovals();
  if (options.signal?.aborted) return { outputs: targets.map(() => new Map()), failures, outcomes };
  const outputs = targets.map((t) => {
    const all = outputPaths(store, readStoreDerivation(store, t.drvPath), t.drvPath);
    return new Map([...all].filter(([name]) => !t.outputs || t.outputs.includes(name)));
  });
  return { outputs, failures, outcomes };
}
