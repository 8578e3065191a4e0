/**
 * Moving whole paths in and out (worker-protocol.md 6.2, 6.3): ImportPaths
 * (an export stream pulled with STDERR_READ), ExportPath (STDERR_WRITE
 * chunks), NarFromPath (the bare NAR after STDERR_LAST) and AddBuildLog.
 * Outgoing data is produced as the peer takes it (sendIfFull waits for the
 * socket), so a path of any size is sent with flat memory.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { logPath } from "../../build/logs.ts";
import { BunixError, SystemError } from "../../errors.ts";
import { dumpPath } from "../../nar/dump.ts";
import { InvalidPathError } from "../../store/errors.ts";
import { exportRecordChunks } from "../../store/export.ts";
import { importPaths } from "../../store/import.ts";
import type { ByteSource } from "../../stream/byte-source.ts";
import { StorePath } from "../../store-path/store-path.ts";
import { Stderr } from "../../wire/worker-protocol.ts";
import { type Connection, type OpHandler, UntrustedError } from "../connection.ts";
import { framedUpload, tunnelSource } from "./uploads.ts";

/** Export data is sent in STDERR_WRITE messages of at most this size. */
const WRITE_PIECE = 64 << 10;

let logFileCounter = 0;

/** The path, temp-rooted for the connection, once it is known to be valid. */
function validRealPath(c: Connection, path: StorePath): string {
  c.store.tempRoots.add(c.store.print(path));
  if (!c.store.isValid(path)) throw new InvalidPathError(c.store.print(path));
  return c.store.realPath(path);
}

const importPathsOp: OpHandler = async (c) => {
  c.logger.startWork();
  const paths = await importPaths(c.store, tunnelSource(c), { checkSigs: !c.trusted });
  c.logger.finishWork();
  c.out.writer.latin1List(paths.map((p) => c.store.print(p)));
};

const exportPath: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  await c.reader.u64("the obsolete sign flag");
  c.logger.startWork();
  validRealPath(c, path);
  const info = c.store.requireInfo(path);
  for (const chunk of exportRecordChunks(c.store, info, c.settings.bool("use-case-hack"))) {
    for (let at = 0; at < chunk.length; at += WRITE_PIECE) {
      c.out.writer.u64(Stderr.write).bytes(chunk.subarray(at, Math.min(chunk.length, at + WRITE_PIECE)));
      await c.out.sendIfFull();
    }
  }
  c.logger.finishWork();
  c.out.writer.u64(1);
};

const narFromPath: OpHandler = async (c) => {
  const path = await c.readPath("the path");
  const real = await c.work(() => validRealPath(c, path));
  // After STDERR_LAST nothing but the NAR may follow: a failure from here on ends the connection.
  for (const chunk of dumpPath(real, { caseHack: c.settings.bool("use-case-hack") })) {
    c.out.writer.raw(chunk);
    await c.out.sendIfFull();
  }
};

/** Writes a log where `nix-store -l` finds it, unless one is there already (as Nix does). */
async function storeBuildLog(logDir: string, drvPath: StorePath, log: ByteSource): Promise<void> {
  const file = logPath(logDir, drvPath);
  if (existsSync(file) || existsSync(`${file}.bz2`)) {
    while (!(await log.atEnd())) await log.readSome(1 << 20);
    return;
  }
  const temporary = `${file}.tmp.${process.pid}.${++logFileCounter}`;
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true });
    fd = openSync(temporary, "w", 0o644);
  } catch (error) {
    throw new SystemError(`creating the build log '${temporary}'`, error);
  }
  try {
    while (!(await log.atEnd())) {
      const chunk = await log.readSome(1 << 20);
      for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at, chunk.length - at);
    }
    closeSync(fd);
    renameSync(temporary, file);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temporary, { force: true });
    throw error instanceof BunixError ? error : new SystemError(`writing the build log '${file}'`, error);
  }
}

const addBuildLog: OpHandler = async (c) => {
  const drvPath = StorePath.fromBaseName(await c.reader.latin1("the derivation's base name"));
  c.logger.startWork();
  // The frames are read (and dropped) before any refusal, so the connection stays in step (8.4).
  await framedUpload(c, "the build log", async (log) => {
    if (!c.trusted) throw new UntrustedError("you are not privileged to add logs");
    if (!drvPath.isDerivation()) throw new BunixError(`'${drvPath.baseName}' is not a derivation, so it has no build log`);
    await storeBuildLog(c.store.logDir, drvPath, log);
  });
  c.logger.finishWork();
  c.out.writer.u64(1);
};

export const transferOps = {
  ImportPaths: importPathsOp,
  ExportPath: exportPath,
  NarFromPath: narFromPath,
  AddBuildLog: addBuildLog,
} satisfies Partial<Record<string, OpHandler>>;
