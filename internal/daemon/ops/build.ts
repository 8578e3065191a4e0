/**
 * Building (worker-protocol.md 6.4, 6.3 QueryMissing): BuildPaths,
 * BuildPathsWithResults, BuildDerivation and QueryMissing. Requests are
 * read in full first (a malformed one ends the connection, 8.2); repair is
 * refused to untrusted clients before the channel opens, as 2.8 does.
 */
import type { BuildMode } from "../../build/derivation-build.ts";
import { BuildError } from "../../build/errors.ts";
import { queryMissing } from "../../build/missing.ts";
import { derivationBytes } from "../../derivation/aterm-write.ts";
import { classifyOutput } from "../../derivation/output-kind.ts";
import { type Derivation, makeDerivation } from "../../derivation/types.ts";
import { addText } from "../../store/add.ts";
import { BuildStatus } from "../../wire/worker-protocol.ts";
import { readBasicDerivation, writeBuildDerivationResult, writeBuildResult } from "../../wire/worker-types.ts";
import { queryingMissingPaths } from "../build-activities.ts";
import { BuildSession } from "../build-session.ts";
import { type Connection, type OpHandler, UntrustedError } from "../connection.ts";
import { lockCpuForClient } from "../cpu-lock.ts";
import { type DerivedPath, parseDerivedPath } from "../derived-path.ts";

async function readDerivedPaths(c: Connection): Promise<DerivedPath[]> {
  return (await c.reader.latin1List("derived paths")).map((text) => parseDerivedPath(c.store.storeDir, text, c.minor));
}

async function readBuildMode(c: Connection): Promise<BuildMode> {
  const mode = await c.reader.u64("the build mode");
  return mode === 1 ? "repair" : mode === 2 ? "check" : "normal";
}

function refuseUntrustedRepair(c: Connection, mode: BuildMode): void {
  if (mode === "repair" && !c.trusted) throw new UntrustedError("repairing is not allowed because you are not in 'trusted-users'");
}

const buildPaths: OpHandler = async (c) => {
  const paths = await readDerivedPaths(c);
  const mode = c.minor >= 15 ? await readBuildMode(c) : "normal";
  refuseUntrustedRepair(c, mode);
  await c.work(async () => {
    lockCpuForClient(c);
    const session = new BuildSession(c, mode);
    let failure: BuildError | undefined;
    try {
      await session.realise(paths);
      failure = session.failure();
    } finally {
      session.close();
    }
    if (failure) throw failure;
  });
  c.out.writer.u64(1);
};

const buildPathsWithResults: OpHandler = async (c) => {
  const paths = await readDerivedPaths(c);
  const mode = await readBuildMode(c);
  refuseUntrustedRepair(c, mode);
  const results = await c.work(async () => {
    lockCpuForClient(c);
    const session = new BuildSession(c, mode);
    try {
      await session.realise(paths);
      return session.results();
    } finally {
      session.close();
    }
  });
  c.out.writer.u64(results.length);
  for (const { path, result } of results) writeBuildResult(c.out.writer, path, result);
};

/** The inline derivation as a Derivation: no input derivations, its inputs are sources. */
async function readInlineDerivation(c: Connection): Promise<Derivation> {
  const wire = await readBasicDerivation(c.reader);
  return makeDerivation({
    outputs: wire.outputs.map((o) => [o.name, { path: o.path, hashAlgo: o.hashAlgo, hash: o.hash }]),
    inputSrcs: wire.inputSrcs,
    platform: wire.platform,
    builder: wire.builder,
    args: wire.args,
    env: wire.env,
  });
}

const buildDerivation: OpHandler = async (c) => {
  let drvPath = await c.readPath("the derivation path");
  const drv = await readInlineDerivation(c);
  const mode = await readBuildMode(c);
  const result = await c.work(async () => {
    const contentAddressed = [...drv.outputs].every(([name, output]) => classifyOutput(name, output, c.store.storeDir).kind === "fixed");
    if (!c.trusted && !contentAddressed) throw new UntrustedError("you are not privileged to build input-addressed derivations");
    if (!c.trusted) {
      // The client's name for it is not trusted: the derivation is written to the store and built under its own path.
      const references = drv.inputSrcs.map((p) => c.store.parse(p));
      drvPath = (await addText(c.store, drvPath.name, [derivationBytes(drv)], { references })).path;
    }
    lockCpuForClient(c);
    const session = new BuildSession(c, mode);
    try {
      const goal = await session.realiseBasic(drvPath, drv);
      return session.resultOf(goal);
    } catch (error) {
      // As 2.8: what goes wrong in the build machinery is a failed result (rendered as a whole), not an error.
      const message = error instanceof BuildError ? error.styled : error instanceof Error ? error.message : String(error);
      const errorMsg = `\x1b[31;1merror:\x1b[0m ${message.replaceAll("\n", "\n       ")}`;
      return { status: BuildStatus.MiscFailure, errorMsg, timesBuilt: 0, isNonDeterministic: false, startTime: 0, stopTime: 0, builtOutputs: new Map<string, string>() };
    } finally {
      session.close();
    }
  });
  writeBuildDerivationResult(c.out.writer, result, c.minor);
};

const queryMissingOp: OpHandler = async (c) => {
  const targets = await readDerivedPaths(c);
  const missing = await c.work(() => {
    queryingMissingPaths(c.logger);
    return queryMissing(c.store, targets);
  });
  c.writePaths(missing.willBuild);
  c.writePaths(missing.willSubstitute);
  c.writePaths(missing.unknown);
  c.out.writer.u64(missing.downloadSize).u64(missing.narSize);
};

export const buildOps = {
  BuildPaths: buildPaths,
  BuildPathsWithResults: buildPathsWithResults,
  BuildDerivation: buildDerivation,
  QueryMissing: queryMissingOp,
} satisfies Partial<Record<string, OpHandler>>;
