/**
 * Paths kept and made valid on a client's behalf (worker-protocol.md 6.4
 * EnsurePath, 6.6 roots, 6.7 RegisterDrvOutput): temporary roots live as
 * long as the connection (its own temproots file), indirect roots are
 * links in gcroots/auto to a link the client made.
 */
import { posix } from "node:path";
import { BuildError, hint } from "../../build/errors.ts";
import { registerIndirectRoot } from "../../build/out-links.ts";
import { WorkerActivities } from "../build-activities.ts";
import type { OpHandler } from "../connection.ts";
import { GoalWorker } from "../goals.ts";

/** Makes a path valid: there is nothing to substitute from, so a missing path stays missing (a worker run, as in 2.8). */
const ensurePath: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  await c.work(() => {
    if (c.store.isValid(path)) return;
    const worker = new GoalWorker(c.store, new WorkerActivities(c.logger), { keepGoing: false, useSubstitutes: c.settings.bool("substitute"), logError: (m) => c.logger.logError(m) });
    const goal = worker.addTop(worker.substitutionGoal(path));
    worker.activities.queryingMissingPaths();
    worker.run();
    worker.close();
    if (goal.exit !== "success") throw new BuildError(hint`path '${c.store.print(path)}' does not exist and cannot be created`);
  });
  c.out.writer.u64(1);
};

const addTempRoot: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  await c.work(() => c.store.tempRoots.add(c.store.print(path)));
  c.out.writer.u64(1);
};

const addIndirectRoot: OpHandler = async (c) => {
  // Relative to the daemon's working directory, which is "/" for nix-daemon.
  const link = posix.resolve("/", await c.reader.text("the root's path"));
  await c.work(() => registerIndirectRoot(c.store, link));
  c.out.writer.u64(1);
};

/** Obsolete: the collector no longer needs waiting for. */
const syncWithGC: OpHandler = async (c) => {
  await c.work(() => undefined);
  c.out.writer.u64(1);
};

/** Realisations exist only for content-addressed derivations, which bunix does not build. */
const registerDrvOutput: OpHandler = async (c) => {
  c.logger.startWork();
  if (c.minor < 31) {
    await c.reader.latin1("the derivation output id");
    await c.reader.latin1("the output path");
  } else {
    await c.reader.text("the realisation");
  }
  const feature = "ca-derivations";
  if (!c.settings.list("experimental-features").includes(feature)) {
    throw new BuildError(hint`experimental Nix feature '${feature}' is disabled; use '--extra-experimental-features ${feature}' to override`);
  }
  throw new BuildError("bunix does not support content-addressed derivations: realisations cannot be registered");
};

export const rootOps = {
  EnsurePath: ensurePath,
  AddTempRoot: addTempRoot,
  AddIndirectRoot: addIndirectRoot,
  SyncWithGC: syncWithGC,
  RegisterDrvOutput: registerDrvOutput,
} satisfies Partial<Record<string, OpHandler>>;
