/**
 * Putting a new object into the store safely (store-layout.md 6):
 *
 * 1. Its bytes are written into a staging directory inside the store (same
 *    file system, so the final move is a rename). The staging directory is
 *    named like a store path and protected by a temporary root, so no
 *    garbage collector, ours or Nix's, deletes it while we write.
 * 2. Once the final path is known: temporary root, path lock (waited for
 *    without blocking the event loop), re-check that nobody registered it
 *    meanwhile, clear any leftover, rename, register (through the store's
 *    write queue when it has one), release the lock with deletion.
 *
 * A crash at any point leaves either nothing registered (and garbage the
 * collector removes) or a complete, registered object.
 */
import { mkdirSync, renameSync } from "node:fs";
import { posix } from "node:path";
import { encodeBase32 } from "../hash/base32.ts";
import { removeTree } from "../nar/restore.ts";
import { StorePath } from "../store-path/store-path.ts";
import { SystemError } from "../errors.ts";
import type { LocalStore } from "./local-store.ts";
import { lockPathAsync } from "./locks.ts";
import type { PathInfo } from "./path-info.ts";
import { optimiseNewPath } from "./optimise.ts";
import { registerThrough } from "./write-queue.ts";

export interface Staging {
  /** Where to write the new object (does not exist yet). */
  readonly objectPath: string;
  readonly dir: string;
}

/** Runs `write` with a fresh staging location; the staging directory is always removed afterwards. */
export async function withStaging<T>(store: LocalStore, write: (staging: Staging) => Promise<T>): Promise<T> {
  const hashPart = encodeBase32(crypto.getRandomValues(new Uint8Array(20)));
  const path = new StorePath(hashPart, `bunix-staging-${process.pid}`);
  store.tempRoots.add(store.print(path));
  const dir = store.realPath(path);
  try {
    mkdirSync(dir, 0o700);
  } catch (error) {
    throw new SystemError(`creating staging directory '${dir}'`, error);
  }
  try {
    return await write({ dir, objectPath: posix.join(dir, "x") });
  } finally {
    removeTree(dir);
  }
}

export interface InstallOptions {
  /** Replace the object even when the path is already valid (its registration is updated). */
  repair?: boolean;
}

/**
 * Moves a staged object to its store path and registers it (through the
 * store's write queue when it has one). Returns false when the path was
 * already valid (the staged copy is then discarded).
 */
export function installStaged(store: LocalStore, staging: Staging, info: PathInfo, options: InstallOptions = {}): Promise<boolean> {
  return installDirect(
    store,
    info,
    async (real) => {
      try {
        renameSync(staging.objectPath, real);
      } catch (error) {
        throw new SystemError(`moving '${staging.objectPath}' to '${real}'`, error);
      }
    },
    options,
  );
}

/**
 * Puts an object whose info is known at its store path with `write`, under
 * the path's lock, and registers it. Returns false when it was valid
 * already (then nothing is written, unless repairing). A failed write or
 * registration leaves nothing behind.
 */
export async function installDirect(store: LocalStore, info: PathInfo, write: (real: string) => Promise<void>, options: InstallOptions = {}): Promise<boolean> {
  const repair = options.repair ?? false;
  store.tempRoots.add(store.print(info.path));
  if (!repair && store.isValid(info.path)) return false;
  const real = store.realPath(info.path);
  const lock = await lockPathAsync(`${real}.lock`);
  let registered = false;
  try {
    if (!repair && store.isValid(info.path)) {
      registered = true;
      return false;
    }
    removeTree(real);
    await write(real);
    await registerThrough(store, [info]);
    registered = true;
    // auto-optimise-store: the path is valid and temp-rooted; deduplicate its files now.
    if (store.settings.bool("auto-optimise-store")) optimiseNewPath(store, real);
    return true;
  } finally {
    if (!registered) removeTree(real);
    lock.release(registered);
  }
}
