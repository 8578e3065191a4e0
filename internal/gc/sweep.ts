/**
 * Deleting what the analysis found dead, safely beside running processes.
 *
 * Valid paths go component by component (scc.ts), referrers first, in
 * batches: before a batch the roots server answers pending clients; every
 * component with a member that a process has claimed since (by hash part),
 * or that something kept must stay, is kept with everything it keeps alive.
 * The rest of the batch is removed from the database in one transaction, each
 * component inside a savepoint: a row that another process has meanwhile
 * made a reference to fails the foreign key, and its component is kept
 * (rolled back) with everything it keeps alive. Right after the commit, with
 * no client answered in between, the batch's objects are renamed into the
 * trash; they are removed from there afterwards. A client that claims a path
 * while it is being deleted gets its answer only after the rename, and then
 * finds the path invalid and adds it again. Removing the trees from the
 * trash is done in time slices (other clients of the process are served in
 * between: the objects are no longer anyone's).
 */
import type { LocalStore } from "../store/local-store.ts";
import { hashPartOf } from "./analysis.ts";
import type { LivenessGraph } from "./graph.ts";
import { markClosure } from "./liveness.ts";
import { type DeletionOrder, componentCount } from "./scc.ts";
import type { GcSession } from "./session.ts";
import { type Trash, deleteTreeSliced, treeSize } from "./trash.ts";

/** Paths removed from the database per transaction. */
const BATCH_PATHS = 2000;

export interface SweepOptions {
  /** Stop once more than this many bytes were freed (Nix's --max-freed). */
  readonly maxFreed: number;
  /** Count and report without deleting anything. */
  readonly dryRun: boolean;
  /** Called for each path as it is deleted ("deleting '…'"). */
  onDeleted(path: string): void;
  onProgress(sweeper: Sweeper): void;
}

function isForeignKeyError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_CONSTRAINT");
}

export class Sweeper {
  /** Full paths deleted (or, in a dry run, that would be), in order. */
  readonly deleted: string[] = [];
  bytesFreed = 0;
  /** Set once --max-freed was exceeded. */
  limitReached = false;
  /** Valid paths kept because a process claimed them (or their referrers) meanwhile. */
  keptMeanwhile = 0;

  constructor(
    private readonly store: LocalStore,
    private readonly session: GcSession,
    private readonly trash: Trash,
    private readonly options: SweepOptions,
  ) {}

  private account(path: string, bytes: number): void {
    this.deleted.push(path);
    this.bytesFreed += bytes;
    this.options.onDeleted(path);
    if (this.bytesFreed > this.options.maxFreed) this.limitReached = true;
  }

  /**
   * Deletes one entry of the store directory that is not a valid path.
   * `hashPart` is set when its name parses as a store path: a process may
   * claim it (a staging directory, a lock, an object being written).
   */
  async removeEntry(name: string, hashPart: string | undefined): Promise<boolean> {
    if (this.limitReached) return false;
    await this.session.yieldToClients();
    if (hashPart !== undefined && this.session.isTempRoot(hashPart)) return false;
    const path = `${this.store.storeDir}/${name}`;
    if (this.options.dryRun) {
      this.account(path, treeSize(`${this.store.realStoreDir}/${name}`));
      return true;
    }
    const moved = this.trash.moveIn(name);
    this.account(path, moved === undefined ? 0 : await this.session.runSliced(deleteTreeSliced(moved)));
    this.options.onProgress(this);
    return true;
  }

  /** Deletes the components of `order`, keeping what processes claim meanwhile. */
  async deleteComponents(live: LivenessGraph, order: DeletionOrder): Promise<void> {
    const graph = live.graph;
    const kept = new Uint8Array(graph.count);
    const total = componentCount(order);
    // With a byte limit, one component at a time, to stop right after crossing it.
    const batchPaths = Number.isFinite(this.options.maxFreed) ? 1 : BATCH_PATHS;
    const members = (c: number) => order.nodes.subarray(order.componentStart[c]!, order.componentStart[c + 1]!);
    const storeDir = this.store.storeDir;
    for (let c = 0; c < total && !this.limitReached; ) {
      await this.session.yieldToClients();
      const batch: number[] = [];
      for (let size = 0; c < total && size < batchPaths; c++) {
        const component = members(c);
        const claimed = component.some((m) => kept[m] === 1 || this.session.isTempRoot(hashPartOf(storeDir, graph.paths[m]!)));
        if (claimed) {
          for (const m of component) markClosure(live, m, kept);
          this.keptMeanwhile += component.length;
          continue;
        }
        batch.push(c);
        size += component.length;
      }
      if (batch.length === 0) continue;
      const { removed, failed } = this.options.dryRun ? { removed: batch, failed: [] } : this.invalidate(live, batch, members, kept);
      for (const c2 of failed) for (const m of members(c2)) markClosure(live, m, kept);
      for (const c2 of failed) this.keptMeanwhile += members(c2).length;
      // Out of the store namespace before any client is answered again.
      const moved: Array<[number, string | undefined]> = [];
      for (const c2 of removed) for (const m of members(c2)) moved.push([m, this.options.dryRun ? undefined : this.trash.moveIn(graph.baseName(m))]);
      for (const [m, inTrash] of moved) {
        // Out of the database and the store directory already: emptying the trash may pause.
        await this.session.yieldIfDue();
        const bytes = this.options.dryRun ? treeSize(`${this.store.realStoreDir}/${graph.baseName(m)}`) : inTrash === undefined ? 0 : await this.session.runSliced(deleteTreeSliced(inTrash));
        this.account(graph.paths[m]!, bytes);
      }
      this.options.onProgress(this);
    }
  }

  /**
   * Removes the batch's rows: first all at once (each path's own references,
   * then the paths; a reference from outside the batch fails the foreign key),
   * and on failure component by component, keeping (rolling back) each
   * component that is still referenced, with everything it keeps alive.
   */
  private invalidate(live: LivenessGraph, batch: readonly number[], members: (c: number) => Int32Array, kept: Uint8Array): { removed: number[]; failed: number[] } {
    const db = this.store.db;
    const rowIds = live.graph.rowIds;
    const idsOf = (components: readonly number[]) => {
      const ids: number[] = [];
      for (const c of components) for (const m of members(c)) ids.push(rowIds[m]!);
      return JSON.stringify(ids);
    };
    const removeRows = (json: string) => {
      db.run("delete from Refs where referrer in (select value from json_each(?))", json);
      db.run("delete from ValidPaths where id in (select value from json_each(?))", json);
    };
    /** Runs `body` in a savepoint; false (rolled back) when a foreign key fails. */
    const attempt = (body: () => void): boolean => {
      db.exec("savepoint gc_sweep");
      try {
        body();
        db.exec("release gc_sweep");
        return true;
      } catch (error) {
        if (!isForeignKeyError(error)) throw error;
        db.exec("rollback to gc_sweep");
        db.exec("release gc_sweep");
        return false;
      }
    };
    return db.transaction(() => {
      if (attempt(() => removeRows(idsOf(batch)))) return { removed: [...batch], failed: [] };
      const removed: number[] = [];
      const failed: number[] = [];
      let localKept: Uint8Array | undefined;
      for (const c of batch) {
        const component = members(c);
        if (localKept && component.some((m) => localKept![m] === 1)) failed.push(c);
        else if (attempt(() => removeRows(idsOf([c])))) removed.push(c);
        else {
          localKept ??= kept.slice();
          for (const m of component) markClosure(live, m, localKept);
          failed.push(c);
        }
      }
      return { removed, failed };
    });
  }
}
