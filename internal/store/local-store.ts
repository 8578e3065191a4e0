/**
 * A local store: the store directory, the state directory and the database,
 * shared with real Nix 2.8. Invariant (as in Nix): a row in ValidPaths exists
 * only once the object is complete on disk, and an object is only removed
 * after its row is gone.
 */
import { closeSync } from "node:fs";
import { posix } from "node:path";
import type { Settings } from "../settings/settings.ts";
import type { StoreLocation } from "../settings/store-location.ts";
import { HASH_PART_LENGTH, type StorePath, parseStorePath } from "../store-path/store-path.ts";
import type { StoreDatabase } from "./database.ts";
import { InvalidPathError } from "./errors.ts";
import { emptyDatabase, openLocalStore, storeExists } from "./open-store.ts";
import { type PathInfo, type PathRecord, type ValidPathRow, pathInfoFromRow } from "./path-info.ts";
import { TempRoots } from "./temp-roots.ts";
import type { WriteQueue } from "./write-queue.ts";

export interface OpenOptions {
  /**
   * "write" creates the store when it is missing (as every Nix command does);
   * "read" leaves a missing store alone and sees it as empty.
   */
  mode: "read" | "write";
}

export class LocalStore {
  readonly storeDir: string;
  readonly realStoreDir: string;
  readonly stateDir: string;
  readonly logDir: string;
  readonly tempRoots: TempRoots;
  readonly warnings: string[];
  /**
   * Where registrations go when several clients write at once (the daemon):
   * one batched transaction per turn of the event loop. Views share it.
   */
  writeQueue: WriteQueue | undefined = undefined;
  private closed = false;

  private constructor(
    readonly location: StoreLocation,
    readonly settings: Settings,
    readonly db: StoreDatabase,
    private readonly bigLockFd: number | undefined,
    warnings: string[],
    tempRoots?: TempRoots,
    private readonly ownsDatabase = true,
  ) {
    this.storeDir = location.storeDir;
    this.realStoreDir = location.realStoreDir;
    this.stateDir = location.stateDir;
    this.logDir = location.logDir;
    this.tempRoots = tempRoots ?? new TempRoots(location.stateDir);
    this.warnings = warnings;
  }

  static open(location: StoreLocation, settings: Settings, options: OpenOptions = { mode: "write" }): LocalStore {
    if (options.mode === "read" && !storeExists(location)) return new LocalStore(location, settings, emptyDatabase(), undefined, []);
    const opened = openLocalStore(location, settings);
    return new LocalStore(location, settings, opened.db, opened.bigLockFd, opened.warnings);
  }

  /**
   * The same store (database, locks) seen with other settings and its own
   * temporary roots: what a daemon connection works with. Closing the view
   * releases its roots, not the database.
   */
  view(settings: Settings, tempRoots: TempRoots): LocalStore {
    const view = new LocalStore(this.location, settings, this.db, undefined, [], tempRoots, false);
    view.writeQueue = this.writeQueue;
    return view;
  }

  /** The full (logical) path of a store path. */
  print(path: StorePath): string {
    return path.in(this.storeDir);
  }

  /** Where the object lives on disk. */
  realPath(path: StorePath): string {
    return posix.join(this.realStoreDir, path.baseName);
  }

  parse(path: string): StorePath {
    return parseStorePath(this.storeDir, path);
  }

  isValid(path: StorePath): boolean {
    return this.db.get("select 1 as one from ValidPaths where path = ?", this.print(path)) !== undefined;
  }

  /** Row id of a valid path. */
  idOf(path: StorePath): number | undefined {
    return this.db.get<{ id: number }>("select id from ValidPaths where path = ?", this.print(path))?.id;
  }

  queryPathInfo(path: StorePath): PathInfo | undefined {
    const record = this.queryPathRecord(path);
    return record && pathInfoFromRow(record.row, record.references.map((r) => this.parse(r)), this.storeDir);
  }

  /**
   * A valid path's row as stored, its references as printed paths: for
   * callers that only pass the fields on (the daemon's path-info replies).
   */
  queryPathRecord(path: StorePath): PathRecord | undefined {
    // One statement (a consistent read by itself): the references come
    // joined by spaces, which no store path contains.
    const row = this.db.get<ValidPathRow & { refs: string | null }>(
      `select id, path, hash, registrationTime, deriver, narSize, ultimate, sigs, ca,
         (select group_concat(v.path, ' ') from Refs r join ValidPaths v on r.reference = v.id where r.referrer = p.id) as refs
       from ValidPaths p where path = ?`,
      this.print(path),
    );
    if (!row) return undefined;
    return { row, references: row.refs ? row.refs.split(" ") : [] };
  }

  queryReferrers(path: StorePath): StorePath[] {
    return this.db
      .all<{ path: string }>(
        "select path from Refs join ValidPaths on referrer = id where reference = (select id from ValidPaths where path = ?) order by path",
        this.print(path),
      )
      .map((r) => this.parse(r.path));
  }

  /** Output name -> path, as recorded when the `.drv` was registered. */
  queryDerivationOutputs(drvPath: StorePath): Map<string, StorePath> {
    const rows = this.db.all<{ id: string; path: string }>(
      "select d.id, d.path from DerivationOutputs d join ValidPaths v on d.drv = v.id where v.path = ? order by d.id",
      this.print(drvPath),
    );
    return new Map(rows.map((r) => [r.id, this.parse(r.path)]));
  }

  /** Valid `.drv` paths that list `outputPath` as an output. */
  queryValidDerivers(outputPath: StorePath): StorePath[] {
    return this.db
      .all<{ path: string }>("select v.path from DerivationOutputs d join ValidPaths v on d.drv = v.id where d.path = ? order by v.path", this.print(outputPath))
      .map((r) => this.parse(r.path));
  }

  queryPathFromHashPart(hashPart: string): StorePath | undefined {
    if (hashPart.length !== HASH_PART_LENGTH) return undefined;
    const prefix = `${this.storeDir}/${hashPart}`;
    const row = this.db.get<{ path: string }>("select path from ValidPaths where path >= ? limit 1", prefix);
    return row && row.path.startsWith(`${prefix}-`) ? this.parse(row.path) : undefined;
  }

  queryAllValidPaths(): StorePath[] {
    return this.db.all<{ path: string }>("select path from ValidPaths order by path").map((r) => this.parse(r.path));
  }

  /** The valid path, or an error naming it ("path '...' is not valid"). */
  requireInfo(path: StorePath): PathInfo {
    const info = this.queryPathInfo(path);
    if (!info) throw new InvalidPathError(this.print(path));
    return info;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tempRoots.close();
    if (!this.ownsDatabase) return;
    this.db.close();
    if (this.bigLockFd !== undefined) closeSync(this.bigLockFd);
  }
}
