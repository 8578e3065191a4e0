/**
 * After deleting (store-layout.md 5.5): entries of `<realStoreDir>/.links`
 * with a link count of 1 are no longer shared by any store object and are
 * removed; what the remaining ones save is reported as Nix 2.8 reports it.
 */
import { lstatSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { SystemError } from "../errors.ts";
import { type Sliced, runAtOnce, runInSlices } from "../store/time-slices.ts";

export interface LinksReport {
  removed: number;
  /** Bytes saved by hard linking, less the .links directory itself (may be negative). */
  savedBytes: number;
}

export function removeUnusedLinks(realStoreDir: string): LinksReport {
  return runAtOnce(sweepLinks(realStoreDir));
}

/** removeUnusedLinks in slices, `pause` between them (the daemon's other clients are served meanwhile). */
export function removeUnusedLinksInSlices(realStoreDir: string, pause: () => Promise<void>): Promise<LinksReport> {
  return runInSlices(sweepLinks(realStoreDir), pause);
}

/** Pauses only between entries: the link count is checked and the entry removed in one step. */
function* sweepLinks(realStoreDir: string): Sliced<LinksReport> {
  const dir = join(realStoreDir, ".links");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { removed: 0, savedBytes: 0 };
    throw new SystemError(`opening directory '${dir}'`, error);
  }
  let actual = 0;
  let unshared = 0;
  let removed = 0;
  for (const name of names) {
    yield;
    const path = join(dir, name);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.nlink !== 1) {
      actual += st.size;
      unshared += (st.nlink - 1) * st.size;
      continue;
    }
    try {
      unlinkSync(path);
      removed++;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new SystemError(`deleting '${path}'`, error);
    }
  }
  const overhead = statSync(dir).blocks * 512;
  return { removed, savedBytes: unshared - actual - overhead };
}

/** Nix's showBytes: "%.2f MiB". */
export function showBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  // printf prints a negative value that rounds to zero as "-0.00"; so does toFixed.
  return `${mib.toFixed(2)} MiB`;
}
