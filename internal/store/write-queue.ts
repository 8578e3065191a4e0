/**
 * One writer for the store database of a process that serves many clients
 * (the daemon). Writes requested in the same turn of the event loop, by any
 * connection, are committed together in one BEGIN IMMEDIATE transaction:
 * a commit (and its fsync) is paid once per batch instead of once per path.
 *
 * Each job runs in its own SAVEPOINT, so a job that fails (a reference that
 * is not valid, a bad .drv) is rolled back alone and reported to its caller
 * while the rest of the batch commits. Callers await their own job's result,
 * which settles only once the batch is committed (or has failed as a whole).
 *
 * Jobs run synchronously inside the transaction and must not touch anything
 * but the database: on SQLITE_BUSY at BEGIN the whole batch runs again.
 */
import type { StoreDatabase } from "./database.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";
import { registerValidPaths } from "./registration.ts";

interface Job {
  readonly body: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface WriteQueueStats {
  /** Transactions committed (or attempted) so far. */
  transactions: number;
  /** Jobs run so far, successful or not. */
  jobs: number;
  /** The largest batch so far. */
  largestBatch: number;
}

export class WriteQueue {
  private pending: Job[] = [];
  private scheduled = false;
  readonly stats: WriteQueueStats = { transactions: 0, jobs: 0, largestBatch: 0 };

  constructor(
    private readonly db: StoreDatabase,
    /** Called after each batch with its size (a test and debugging hook). */
    private readonly onBatch?: (jobs: number) => void,
  ) {}

  /** Runs `body` in the next batch's transaction; resolves with its result once committed. */
  run<T>(body: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ body, resolve: resolve as (value: unknown) => void, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /** registerValidPaths through the queue. */
  register(store: LocalStore, infos: readonly PathInfo[]): Promise<void> {
    return this.run(() => registerValidPaths(store, infos));
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.pending.splice(0);
    if (jobs.length === 0) return;
    let outcomes: Outcome[] = [];
    try {
      this.db.transaction(() => {
        outcomes = jobs.map((job) => this.runJob(job));
      });
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    } finally {
      this.stats.transactions++;
      this.stats.jobs += jobs.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, jobs.length);
      this.onBatch?.(jobs.length);
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }

  /** One job in its savepoint; its failure is rolled back and kept for its caller. */
  private runJob(job: Job): Outcome {
    this.db.exec("savepoint write_job");
    try {
      const value = job.body();
      this.db.exec("release write_job");
      return { ok: true, value };
    } catch (error) {
      try {
        this.db.exec("rollback to write_job");
        this.db.exec("release write_job");
      } catch {
        // SQLite abandoned the whole transaction (e.g. disk full): fail the batch with the cause.
        throw error;
      }
      return { ok: false, error };
    }
  }
}

/**
 * Runs a database write for `store`: through its queue when it has one (a
 * daemon), else at once in its own transaction (a command).
 */
export function writeThrough<T>(store: LocalStore, body: () => T): Promise<T> {
  if (store.writeQueue) return store.writeQueue.run(body);
  try {
    return Promise.resolve(store.db.transaction(body));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** registerValidPaths, through the store's queue when it has one. */
export function registerThrough(store: LocalStore, infos: readonly PathInfo[]): Promise<void> {
  if (store.writeQueue) return store.writeQueue.register(store, infos);
  try {
    registerValidPaths(store, infos);
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}
