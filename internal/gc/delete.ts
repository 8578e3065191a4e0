/**
 * Deleting specific paths (`nix-store --delete`, `bunix store delete`): under
 * a GC session, refuse any path that is still referenced by a valid path
 * outside the request, or that a running process holds as a temporary root;
 * then, referrers first, remove each path from the database and only then
 * from disk (moved into the trash directory first, so a crash never leaves a
 * half-deleted valid path).
 */
import { lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { BunixError, SystemError } from "../errors.ts";
import { removeTree } from "../nar/restore.ts";
import { type StorePath, compareStorePaths } from "../store-path/store-path.ts";
import { sortReferencesFirst } from "../store/closure.ts";
import type { LocalStore } from "../store/local-store.ts";
import { GcSession } from "./session.ts";

export class StillAliveError extends BunixError {
  override name = "StillAliveError";
}

export interface DeleteResult {
  deleted: StorePath[];
  bytesFreed: number;
}

/** Directory inside the store where deleted objects wait to be removed. */
export const TRASH_NAME = "trash";

function sizeOnDisk(path: string): number {
  let total = 0;
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    else if (st.nlink <= 2) total += st.size; // shared by optimisation beyond that: not freed
  };
  try {
    walk(path);
  } catch {
    // sizes are a report, not a guarantee
  }
  return total;
}

/** Removes an object that is no longer registered: rename into the trash, then delete. */
export function removeInvalidObject(store: LocalStore, path: StorePath): number {
  const real = store.realPath(path);
  const trash = join(store.realStoreDir, TRASH_NAME);
  mkdirSync(trash, { recursive: true });
  const target = join(trash, `${path.baseName}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  try {
    renameSync(real, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw new SystemError(`moving '${real}' to the trash`, error);
  }
  const bytes = sizeOnDisk(target);
  removeTree(target);
  return bytes;
}

export async function deletePaths(store: LocalStore, requested: readonly StorePath[]): Promise<DeleteResult> {
  const session = await GcSession.start(store.stateDir, store.storeDir);
  try {
    const wanted = new Map(requested.map((p) => [p.baseName, p]));
    const refuseIfTempRoot = (path: StorePath) => {
      if (session.isTempRoot(path.hashPart)) {
        throw new StillAliveError(`cannot delete path '${store.print(path)}' since it is still alive: it is in use by process ${session.tempRootOwner(path.hashPart)}`);
      }
    };
    // Everything is checked before anything is deleted.
    for (const path of wanted.values()) {
      refuseIfTempRoot(path);
      if (!store.isValid(path)) continue;
      for (const referrer of store.queryReferrers(path)) {
        if (!wanted.has(referrer.baseName)) {
          throw new StillAliveError(`cannot delete path '${store.print(path)}' since it is still alive: it is referenced by '${store.print(referrer)}'`);
        }
      }
    }
    // Referrers first: each deletion leaves no dangling reference in the database.
    const valid = [...wanted.values()].filter((p) => store.isValid(p));
    const order = sortReferencesFirst(valid, (p) => store.requireInfo(p).references).reverse();
    const invalid = [...wanted.values()].filter((p) => !valid.includes(p)).sort(compareStorePaths);
    const result: DeleteResult = { deleted: [], bytesFreed: 0 };
    for (const path of [...order, ...invalid]) {
      await session.yieldToClients();
      refuseIfTempRoot(path); // a process may have claimed it since

      if (store.isValid(path)) store.db.transaction(() => store.db.run("delete from ValidPaths where path = ?", store.print(path)));
      result.bytesFreed += removeInvalidObject(store, path);
      result.deleted.push(path);
    }
    return result;
  } finally {
    session.close();
    try {
      rmdirSync(join(store.realStoreDir, TRASH_NAME));
    } catch {
      // not empty (another deletion is using it) or already gone
    }
  }
}
