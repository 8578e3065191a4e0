/**
 * Checking and repairing single paths (nix-store --verify-path /
 * --repair-path): is the path valid, and does its NAR still have the
 * recorded hash? Repair can only restore what the object itself allows:
 * canonical metadata and the recorded NAR size. Other contents than recorded
 * would need a substituter or a rebuild, which bunix cannot do yet.
 */
import { lstatSync } from "node:fs";
import { BunixError, describeSystemError } from "../errors.ts";
import type { Hash } from "../hash/hash.ts";
import { hashPath } from "../nar/hash-path.ts";
import type { StorePath } from "../store-path/store-path.ts";
import { type MetadataIssue, canonicalisePathMetaData } from "./canonicalise.ts";
import { StoreError } from "./errors.ts";
import type { LocalStore } from "./local-store.ts";
import { lockGarbageCollector, storeOwner } from "./verify.ts";
import { CONTENT_REPAIR_UNAVAILABLE } from "./verify-report.ts";

export type PathStatus = "ok" | "invalid" | "modified" | "unreadable";

export interface PathCheck {
  readonly path: string;
  readonly status: PathStatus;
  /** Why it is not ok, as a sentence (Nix's wording where Nix has one). */
  readonly detail?: string;
  readonly expected?: Hash;
  readonly actual?: Hash;
  readonly narSize?: number;
}

/** Hashes one path's object and compares with the database. */
export function checkPath(store: LocalStore, path: StorePath): PathCheck {
  const printed = store.print(path);
  const info = store.queryPathInfo(path);
  if (!info) return { path: printed, status: "invalid", detail: `path '${printed}' is not valid` };
  let actual: { hash: Hash; narSize: number };
  try {
    actual = hashPath(store.realPath(path), info.narHash.algorithm, { caseHack: store.settings.bool("use-case-hack") });
  } catch (error) {
    const reason = error instanceof BunixError ? error.message : describeSystemError(error);
    return { path: printed, status: "unreadable", detail: reason, expected: info.narHash };
  }
  if (!actual.hash.equals(info.narHash)) {
    return {
      path: printed,
      status: "modified",
      detail: `path '${printed}' was modified! expected hash '${info.narHash.format("base32", true)}', got '${actual.hash.format("base32", true)}'`,
      expected: info.narHash,
      actual: actual.hash,
      narSize: actual.narSize,
    };
  }
  return { path: printed, status: "ok", expected: info.narHash, actual: actual.hash, narSize: actual.narSize };
}

export interface PathRepair {
  readonly path: string;
  /** Metadata made canonical. */
  readonly fixed: MetadataIssue[];
  /** The recorded NAR size was corrected (from, to). */
  readonly narSize?: { from: number; to: number };
}

/**
 * Repairs what can be repaired in place; throws "cannot repair path" when
 * the object is gone or its contents differ from the record.
 */
export function repairPath(store: LocalStore, path: StorePath, onWait: (message: string) => void = () => {}): PathRepair {
  const printed = store.print(path);
  const info = store.requireInfo(path);
  const unlock = lockGarbageCollector(store, onWait);
  try {
    try {
      lstatSync(store.realPath(path));
    } catch (error) {
      throw new StoreError(`cannot repair path '${printed}': it is missing (${describeSystemError(error)}); ${CONTENT_REPAIR_UNAVAILABLE}`);
    }
    const report = canonicalisePathMetaData(store.realPath(path), {
      keepGoing: true,
      owner: storeOwner(store),
      ignoredXattrs: store.settings.list("ignored-acls"),
    });
    const failed = report.issues.filter((i) => !i.fixed);
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new StoreError(`cannot repair path '${printed}': '${first.file}': ${first.detail}${first.error ? `: ${first.error}` : ""}`);
    }
    const check = checkPath(store, path);
    if (check.status !== "ok") throw new StoreError(`cannot repair path '${printed}': ${check.detail}; ${CONTENT_REPAIR_UNAVAILABLE}`);
    const fixedSize = check.narSize !== undefined && check.narSize !== info.narSize ? { from: info.narSize, to: check.narSize } : undefined;
    if (fixedSize) store.db.run("update ValidPaths set narSize = ? where path = ?", fixedSize.to, printed);
    return { path: printed, fixed: report.issues, ...(fixedSize ? { narSize: fixedSize } : {}) };
  } finally {
    unlock();
  }
}
