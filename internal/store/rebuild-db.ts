/**
 * Rebuilding a lost or corrupt store database from the store directory.
 *
 * Under the exclusive big lock (no Nix or bunix process has the store open),
 * every entry named like a store path is hashed and scanned
 * (rebuild-db-scan.ts), what the database recorded is recovered where the
 * objects prove it (rebuild-db-infer.ts), the old database is moved aside as
 * `db.sqlite.broken-<time>` (its -wal/-shm/-journal files alongside, so it can
 * still be opened), and a fresh schema-10 database is written in one
 * transaction, every path after the paths it refers to.
 *
 * The objects present are taken to be complete: a crash can leave a
 * half-written object that the lost database did not list as valid, and
 * nothing on disk tells it apart. Top-level entries that are not canonical
 * (as unfinished objects often are) are listed as suspicious.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { closeSync } from "node:fs";
import { BunixError } from "../errors.ts";
import type { Settings } from "../settings/settings.ts";
import type { StoreLocation } from "../settings/store-location.ts";
import { StoreDatabase } from "./database.ts";
import { lockFd, openLockFile, tryLockFd } from "./locks.ts";
import { type StoreFiles, storeFiles } from "./open-store.ts";
import { hashColumn } from "./path-info.ts";
import { type Findings, type RecoveredPath, inferPathInfos } from "./rebuild-db-infer.ts";
import { type SkippedEntry, type UnreadableEntry, scanStore } from "./rebuild-db-scan.ts";
import { SCHEMA_SQL, SCHEMA_VERSION } from "./schema.ts";

export type RebuildEvent =
  | { readonly type: "waiting"; readonly message: string }
  | { readonly type: "progress"; readonly phase: "scanning" | "writing"; readonly done: number; readonly total: number; readonly item: string };

export interface RebuildReport {
  readonly storeDir: string;
  readonly database: string;
  /** Old database files, moved aside (empty when there was none). */
  readonly movedAside: string[];
  readonly registered: number;
  readonly references: number;
  readonly withDeriver: number;
  readonly contentAddressed: { readonly text: number; readonly source: number; readonly fixed: number };
  /** Entries left alone. */
  readonly skipped: SkippedEntry[];
  /** Objects that could not be read, hence not registered. */
  readonly unreadable: UnreadableEntry[];
  /** Registered objects whose top-level entry is not canonical. */
  readonly suspicious: Array<{ path: string; reason: string }>;
  readonly lost: {
    /** Recorded for every path and never recoverable from the objects. */
    readonly always: string[];
    /** Paths (not `.drv` files, text or source objects) whose deriver is unknown. */
    readonly derivers: string[];
    /** Paths that may have had a content address that nothing proves. */
    readonly contentAddresses: string[];
  };
  readonly findings: Findings;
}

export class RebuildError extends BunixError {
  override name = "RebuildError";
}

const ALWAYS_LOST = [
  "signatures (every path is registered unsigned)",
  "registration times (every path is registered as of now)",
  "'ultimate' flags (locally built or trusted paths are registered as not ultimate)",
];

function lockExclusively(files: StoreFiles, onWait: (message: string) => void): () => void {
  mkdirSync(files.dbDir, { recursive: true });
  const fd = openLockFile(files.bigLock);
  if (!tryLockFd(fd, "exclusive", files.bigLock)) {
    onWait("waiting for exclusive access to the Nix store (every Nix or bunix process using it must finish)...");
    lockFd(fd, "exclusive", files.bigLock);
  }
  return () => closeSync(fd);
}

function timeStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** Moves db.sqlite and its companions to db.sqlite.broken-<time>[-wal|-shm|-journal]. */
function moveAside(files: StoreFiles, now: Date): string[] {
  let target = `${files.dbFile}.broken-${timeStamp(now)}`;
  for (let n = 1; existsSync(target); n++) target = `${files.dbFile}.broken-${timeStamp(now)}-${n}`;
  const moved: string[] = [];
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    const from = `${files.dbFile}${suffix}`;
    if (!existsSync(from)) continue;
    renameSync(from, `${target}${suffix}`);
    moved.push(`${target}${suffix}`);
  }
  return moved;
}

function writeDatabase(files: StoreFiles, settings: Settings, paths: readonly RecoveredPath[], storeDir: string, now: number, onEvent: RebuildOptions["onEvent"]): number {
  const db = new StoreDatabase(files.dbFile, { create: true, wal: settings.bool("use-sqlite-wal"), fsync: settings.bool("fsync-metadata") });
  let references = 0;
  try {
    db.exec(SCHEMA_SQL);
    db.transaction(() => {
      references = 0;
      const ids = new Map<string, number>();
      for (const [i, info] of paths.entries()) {
        onEvent?.({ type: "progress", phase: "writing", done: i, total: paths.length, item: info.path.baseName });
        const { lastInsertRowid } = db.run(
          "insert into ValidPaths (path, hash, registrationTime, deriver, narSize, ultimate, sigs, ca) values (?, ?, ?, ?, ?, null, null, ?)",
          info.path.in(storeDir),
          hashColumn(info.narHash),
          now,
          info.deriver ? info.deriver.in(storeDir) : null,
          info.narSize === 0 ? null : info.narSize,
          info.ca ?? null,
        );
        ids.set(info.path.baseName, lastInsertRowid);
        for (const [name, output] of info.outputs) {
          db.run("insert or replace into DerivationOutputs (drv, id, path) values (?, ?, ?)", lastInsertRowid, name, output.in(storeDir));
        }
      }
      for (const info of paths) {
        const referrer = ids.get(info.path.baseName)!;
        for (const ref of info.references) {
          db.run("insert or replace into Refs (referrer, reference) values (?, ?)", referrer, ids.get(ref.baseName)!);
          references++;
        }
      }
    });
  } finally {
    db.close();
  }
  const temp = `${files.schemaFile}.tmp-${process.pid}`;
  writeFileSync(temp, String(SCHEMA_VERSION), { mode: 0o644 });
  renameSync(temp, files.schemaFile);
  return references;
}

export interface RebuildOptions {
  onEvent?: (event: RebuildEvent) => void;
}

/** Recreates the store database from the objects in the store directory; see the module comment. */
export function rebuildDatabase(location: StoreLocation, settings: Settings, options: RebuildOptions = {}): RebuildReport {
  if (!existsSync(location.realStoreDir)) throw new RebuildError(`there is no store at '${location.realStoreDir}' to rebuild a database from`);
  const files = storeFiles(location);
  const unlock = lockExclusively(files, (message) => options.onEvent?.({ type: "waiting", message }));
  try {
    const scan = scanStore(location.realStoreDir, {
      caseHack: settings.bool("use-case-hack"),
      onProgress: (p) => options.onEvent?.({ type: "progress", phase: "scanning", done: p.done, total: p.total, item: p.name }),
    });
    const { paths, findings } = inferPathInfos(scan, location.storeDir, location.realStoreDir);
    const now = new Date();
    const movedAside = moveAside(files, now);
    const references = writeDatabase(files, settings, paths, location.storeDir, Math.floor(now.getTime() / 1000), options.onEvent);

    const print = (p: RecoveredPath) => p.path.in(location.storeDir);
    const count = (kind: string) => paths.filter((p) => p.caKind === kind).length;
    return {
      storeDir: location.storeDir,
      database: files.dbFile,
      movedAside,
      registered: paths.length,
      references,
      withDeriver: paths.filter((p) => p.deriver).length,
      contentAddressed: { text: count("text"), source: count("source"), fixed: count("fixed") },
      skipped: scan.skipped,
      unreadable: scan.unreadable,
      suspicious: paths.flatMap((p) => {
        const reason = scan.objects.get(p.path.baseName)!.suspicious;
        return reason ? [{ path: print(p), reason }] : [];
      }),
      lost: {
        always: ALWAYS_LOST,
        derivers: paths.filter((p) => !p.deriver && !p.path.isDerivation() && p.caKind !== "text" && p.caKind !== "source").map(print),
        contentAddresses: paths.filter((p) => !p.ca && !p.inputAddressed).map(print),
      },
      findings,
    };
  } finally {
    unlock();
  }
}
