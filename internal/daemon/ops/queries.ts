/**
 * Read-only queries (worker-protocol.md 6.3). Each reads the database as it
 * is now: nothing is cached across requests. There are no substituters yet,
 * so the substitution queries answer "none".
 */
import { InvalidPathError } from "../../store/errors.ts";
import { Verbosity } from "../../wire/worker-protocol.ts";
import { writePathInfo } from "../../wire/worker-types.ts";
import type { Connection, OpHandler } from "../connection.ts";
import { recordToWirePathInfo, toWirePathInfo } from "./path-info.ts";

const isValidPath: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const valid = await c.work(() => c.store.isValid(path));
  c.out.writer.bool(valid);
};

const queryPathInfo: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const info = await c.work(() => {
    const found = c.store.queryPathRecord(path);
    if (!found && c.minor < 17) throw new InvalidPathError(c.store.print(path));
    return found && recordToWirePathInfo(found);
  });
  if (c.minor >= 17) c.out.writer.bool(info !== undefined);
  if (info) writePathInfo(c.out.writer, info, c.minor);
};

const queryPathHash: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const info = await c.work(() => c.store.requireInfo(path));
  c.out.writer.latin1(info.narHash.format("base16"));
};

const queryReferences: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const info = await c.work(() => c.store.requireInfo(path));
  c.writePaths(info.references);
};

const queryReferrers: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const referrers = await c.work(() => c.store.queryReferrers(path));
  c.writePaths(referrers);
};

const queryDeriver: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const info = await c.work(() => c.store.requireInfo(path));
  c.out.writer.latin1(info.deriver ? c.store.print(info.deriver) : "");
};

const queryValidDerivers: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const derivers = await c.work(() => c.store.queryValidDerivers(path));
  c.writePaths(derivers);
};

/** Output name -> path of a valid derivation, from the database. */
async function outputMapOf(c: Connection) {
  const drvPath = await c.readPath("the derivation path");
  return c.work(() => {
    if (!c.store.isValid(drvPath)) throw new InvalidPathError(c.store.print(drvPath));
    return c.store.queryDerivationOutputs(drvPath);
  });
}

const queryDerivationOutputs: OpHandler = async (c) => {
  c.writePaths((await outputMapOf(c)).values());
};

const queryDerivationOutputNames: OpHandler = async (c) => {
  c.out.writer.latin1Set((await outputMapOf(c)).keys());
};

const queryDerivationOutputMap: OpHandler = async (c) => {
  const outputs = await outputMapOf(c);
  const names = [...outputs.keys()].sort();
  c.out.writer.u64(names.length);
  for (const name of names) c.out.writer.latin1(name).latin1(c.store.print(outputs.get(name)!));
};

const queryPathFromHashPart: OpHandler = async (c) => {
  const hashPart = await c.reader.latin1("the hash part");
  const path = await c.work(() => c.store.queryPathFromHashPart(hashPart));
  c.out.writer.latin1(path ? c.store.print(path) : "");
};

const queryAllValidPaths: OpHandler = async (c) => {
  const paths = await c.work(() => c.store.queryAllValidPaths());
  c.writePaths(paths);
};

const queryValidPaths: OpHandler = async (c) => {
  const paths = await c.readPaths("paths");
  if (c.minor >= 27) await c.reader.bool("the substitute flag");
  const valid = await c.work(() => paths.filter((p) => c.store.isValid(p)));
  c.writePaths(valid);
};

const hasSubstitutes: OpHandler = async (c) => {
  await c.readPath("the path");
  await c.work(() => undefined);
  c.out.writer.bool(false);
};

const querySubstitutablePaths: OpHandler = async (c) => {
  await c.readPaths("paths");
  await c.work(() => undefined);
  c.out.writer.u64(0);
};

const querySubstitutablePathInfo: OpHandler = async (c) => {
  await c.readPath("the path");
  await c.work(() => undefined);
  c.out.writer.u64(0);
};

const querySubstitutablePathInfos: OpHandler = async (c) => {
  if (c.minor >= 22) {
    const n = await c.reader.count("paths");
    for (let i = 0; i < n; i++) {
      await c.readPath("a path");
      await c.reader.latin1("a content address");
    }
  } else {
    await c.readPaths("paths");
  }
  await c.work(() => undefined);
  c.out.writer.u64(0);
};

/** Content-addressed derivations are not supported: no realisation is ever known. */
const queryRealisation: OpHandler = async (c) => {
  c.logger.startWork();
  await c.reader.latin1("the derivation output id");
  c.logger.log(Verbosity.debug, "bunix does not support content-addressed derivations: no realisation is known");
  c.logger.finishWork();
  c.out.writer.u64(0);
};

export const queryOps = {
  IsValidPath: isValidPath,
  QueryPathInfo: queryPathInfo,
  QueryPathHash: queryPathHash,
  QueryReferences: queryReferences,
  QueryReferrers: queryReferrers,
  QueryDeriver: queryDeriver,
  QueryValidDerivers: queryValidDerivers,
  QueryDerivationOutputs: queryDerivationOutputs,
  QueryDerivationOutputNames: queryDerivationOutputNames,
  QueryDerivationOutputMap: queryDerivationOutputMap,
  QueryPathFromHashPart: queryPathFromHashPart,
  QueryAllValidPaths: queryAllValidPaths,
  QueryValidPaths: queryValidPaths,
  HasSubstitutes: hasSubstitutes,
  QuerySubstitutablePaths: querySubstitutablePaths,
  QuerySubstitutablePathInfo: querySubstitutablePathInfo,
  QuerySubstitutablePathInfos: querySubstitutablePathInfos,
  QueryRealisation: queryRealisation,
} satisfies Partial<Record<string, OpHandler>>;
