/**
 * The store database (store-layout.md 3): bun:sqlite with Nix's pragmas and
 * schema. Every operation runs in a loop that retries the whole of it on
 * SQLITE_BUSY / SQLITE_PROTOCOL after a random 0-99 ms pause, as Nix does;
 * these conditions are expected under concurrency and never reach the user.
 * Write transactions start with BEGIN IMMEDIATE, so that the write lock is
 * taken up front instead of failing half-way on a stale snapshot.
 */
import { Database, type SQLQueryBindings, type Statement } from "bun:sqlite";
import { statSync } from "node:fs";
import { BunixError } from "../errors.ts";

export class DatabaseError extends BunixError {
  override name = "DatabaseError";
}

/** SQLite's own wait before reporting busy; our retry loop adds jittered pauses on top. */
const BUSY_TIMEOUT_MS = 60 * 60 * 1000;
/** Nix uses 40000 pages; a smaller value keeps the WAL from growing toward the database's size. */
const WAL_AUTOCHECKPOINT_PAGES = 1000;
/** Past this size, closing the database truncates the WAL. */
const WAL_TRUNCATE_BYTES = 16 << 20;

export interface DatabaseOptions {
  create: boolean;
  /** use-sqlite-wal */
  wal: boolean;
  /** fsync-metadata */
  fsync: boolean;
}

function isBusy(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_PROTOCOL");
  const errno = (error as { errno?: unknown }).errno;
  return typeof errno === "number" && ((errno & 0xff) === 5 || (errno & 0xff) === 15);
}

function pause(): void {
  Bun.sleepSync(Math.floor(Math.random() * 100));
}

export type Row = Record<string, string | number | bigint | null | Uint8Array>;

export class StoreDatabase {
  private readonly db: Database;
  private depth = 0;

  constructor(
    readonly path: string,
    options: DatabaseOptions,
  ) {
    try {
      this.db = new Database(path, { create: options.create, readwrite: true, strict: false });
    } catch (error) {
      throw new DatabaseError(`cannot open the store database '${path}': ${(error as Error).message}`, { cause: error });
    }
    this.retry(() => {
      this.db.exec(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.db.exec("pragma foreign_keys = 1");
      this.db.exec(`pragma synchronous = ${options.fsync ? "normal" : "off"}`);
      const wanted = options.wal ? "wal" : "truncate";
      const mode = (this.db.query("pragma main.journal_mode").get() as { journal_mode: string }).journal_mode;
      if (mode !== wanted) this.db.exec(`pragma main.journal_mode = ${wanted}`);
      if (options.wal) this.db.exec(`pragma wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    });
  }

  /** Runs `operation` until it gets through without SQLITE_BUSY / SQLITE_PROTOCOL. */
  private retry<T>(operation: () => T): T {
    for (;;) {
      try {
        return operation();
      } catch (error) {
        if (!isBusy(error) || this.depth > 0) throw error;
        pause();
      }
    }
  }

  private statement(sql: string): Statement {
    return this.db.query(sql);
  }

  /** One row or undefined (retried as a unit unless inside a transaction). */
  get<T extends Row>(sql: string, ...params: SQLQueryBindings[]): T | undefined {
    return this.retry(() => (this.statement(sql).get(...params) as T | null) ?? undefined);
  }

  all<T extends Row>(sql: string, ...params: SQLQueryBindings[]): T[] {
    return this.retry(() => this.statement(sql).all(...params) as T[]);
  }

  run(sql: string, ...params: SQLQueryBindings[]): { changes: number; lastInsertRowid: number } {
    return this.retry(() => {
      const result = this.statement(sql).run(...params);
      return { changes: result.changes, lastInsertRowid: Number(result.lastInsertRowid) };
    });
  }

  exec(sql: string): void {
    this.retry(() => this.db.exec(sql));
  }

  /**
   * A write transaction: BEGIN IMMEDIATE ... COMMIT, rolled back on error;
   * on busy the whole of `body` runs again, so it must not have side effects
   * outside the database. Nested calls join the outer transaction.
   */
  transaction<T>(body: () => T): T {
    if (this.depth > 0) return body();
    return this.retry(() => {
      this.db.exec("begin immediate");
      this.depth++;
      try {
        const result = body();
        this.db.exec("commit");
        return result;
      } catch (error) {
        try {
          this.db.exec("rollback");
        } catch {
          // the transaction may already be gone
        }
        throw error;
      } finally {
        this.depth--;
      }
    });
  }

  /** A consistent read of several queries. */
  snapshot<T>(body: () => T): T {
    if (this.depth > 0) return body();
    return this.retry(() => {
      this.db.exec("begin");
      this.depth++;
      try {
        return body();
      } finally {
        this.depth--;
        try {
          this.db.exec("commit");
        } catch {
          // read-only: nothing to keep
        }
      }
    });
  }

  /** Keeps the WAL small: a truncating checkpoint when it has grown (skipped when busy). */
  checkpoint(force = false): void {
    let size = 0;
    try {
      size = statSync(`${this.path}-wal`).size;
    } catch {
      return;
    }
    if (!force && size < WAL_TRUNCATE_BYTES) return;
    try {
      this.db.exec("pragma wal_checkpoint(truncate)");
    } catch (error) {
      if (!isBusy(error)) throw error;
    }
  }

  close(): void {
    this.checkpoint();
    this.db.close();
  }
}
