/**
 * Verifying the store, as Nix 2.8's LocalStore::verifyStore does, and more:
 *
 * 1. Under a shared `gc.lock` (no collector can delete objects meanwhile),
 *    list the store directory once.
 * 2. Existence: every valid path must be present. A missing path that no
 *    present valid path refers to is removed from the database (Nix does this
 *    even without --repair); one that is still referred to is an error.
 * 3. Metadata (beyond Nix): every present object must be canonical
 *    (formats.md 6.7): modes, mtimes, owner, extended attributes. --repair
 *    canonicalises it.
 * 4. With checkContents: every `.links` entry must hash to its name (a bad
 *    one is removed with --repair), and every object must have the recorded
 *    NAR hash; a missing (0) NAR size is filled in, as Nix does.
 *
 * Unlike Nix, nothing stops the run: an unreadable file is reported with its
 * path and the error, and the check goes on with the next object. Contents
 * that differ from the record cannot be repaired yet (no substituters or
 * builds), and are reported as such.
 */
import { closeSync, lstatSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { BunixError, SystemError, describeSystemError } from "../errors.ts";
import type { Hash } from "../hash/hash.ts";
import { hashPath } from "../nar/hash-path.ts";
import { type StorePath, compareStorePaths } from "../store-path/store-path.ts";
import { canonicalisePathMetaData } from "./canonicalise.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";
import { lockFd, lockFdAsync, openLockFile, tryLockFd } from "./locks.ts";
import { type Sliced, runAtOnce, runInSlices } from "./time-slices.ts";
import { CONTENT_REPAIR_UNAVAILABLE, type VerifyEvent, type VerifyPhase, type VerifyProblem, type VerifyReport, metadataProblem } from "./verify-report.ts";

export interface VerifyOptions {
  /** Re-hash every object and `.links` entry (slow). */
  checkContents?: boolean;
  /** Fix what can be fixed: metadata, `.links` entries, NAR sizes. */
  repair?: boolean;
  /** Check canonical metadata of every object (default true; Nix does not). */
  checkMetadata?: boolean;
  onEvent?: (event: VerifyEvent) => void;
}

const WAITING_FOR_GC_LOCK = "waiting for the big garbage collector lock...";

/** Holds `gc.lock` shared: a collector (which takes it exclusively) cannot run meanwhile. */
export function lockGarbageCollector(store: LocalStore, onWait: (message: string) => void): () => void {
  const file = join(store.stateDir, "gc.lock");
  const fd = openLockFile(file);
  if (!tryLockFd(fd, "shared", file)) {
    onWait(WAITING_FOR_GC_LOCK);
    lockFd(fd, "shared", file);
  }
  return () => closeSync(fd);
}

/** lockGarbageCollector without blocking the event loop (a collector may be another client of this very process). */
export async function lockGarbageCollectorAsync(store: LocalStore, onWait: (message: string) => void): Promise<() => void> {
  const file = join(store.stateDir, "gc.lock");
  const fd = openLockFile(file);
  try {
    if (!tryLockFd(fd, "shared", file)) {
      onWait(WAITING_FOR_GC_LOCK);
      await lockFdAsync(fd, "shared", file);
    }
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return () => closeSync(fd);
}

/**
 * The owner store objects should have: the owner of the store directory (so
 * that root checking a single-user store does not hand it to root), with our
 * effective gid when that is us.
 */
export function storeOwner(store: LocalStore): { uid: number; gid: number } {
  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  try {
    const st = lstatSync(store.realStoreDir);
    return st.uid === euid ? { uid: euid, gid: egid } : { uid: st.uid, gid: st.gid };
  } catch {
    return { uid: euid, gid: egid };
  }
}

function errorText(error: unknown): string {
  return error instanceof BunixError ? error.message : error instanceof Error ? describeSystemError(error) : String(error);
}

function isUnsupportedType(error: unknown): boolean {
  return error instanceof Error && error.message.includes("has an unsupported type");
}

/** Most pooled files are small: a 1 MiB NAR buffer per file would cost more than hashing it. */
function narBufferSize(path: string): number {
  try {
    const st = lstatSync(path);
    return st.isDirectory() ? 1 << 20 : Math.min(Math.max(st.size + 4096, 64 << 10), 1 << 20);
  } catch {
    return 64 << 10;
  }
}

function isNullHash(hash: Hash): boolean {
  return hash.digest.every((b) => b === 0);
}

class Verifier {
  readonly problems: VerifyProblem[] = [];
  private entries = 0;
  private contents = 0;
  private links = 0;
  /** Present objects whose entries could not all be read or are of a bad type. */
  private readonly broken = new Set<string>();

  constructor(
    private readonly store: LocalStore,
    private readonly options: VerifyOptions,
  ) {}

  emit(event: VerifyEvent): void {
    this.options.onEvent?.(event);
  }

  private phase(phase: VerifyPhase): void {
    this.emit({ type: "phase", phase });
  }

  private problem(problem: VerifyProblem): void {
    this.problems.push(problem);
    this.emit({ type: "problem", problem });
  }

  /** The whole check, pausing between objects; call with gc.lock held shared. */
  *run(): Sliced<VerifyReport> {
    const store = this.store;
    let listing: Set<string>;
    try {
      listing = new Set(readdirSync(store.realStoreDir));
    } catch (error) {
      throw new SystemError(`reading the store directory '${store.realStoreDir}'`, error);
    }
    this.phase("existence");
    const valid = store.queryAllValidPaths();
    const present = yield* this.checkExistence(valid, listing);
    if (this.options.checkMetadata !== false) yield* this.checkMetadata(present);
    if (this.options.checkContents) {
      yield* this.checkLinks();
      yield* this.checkContents(present);
    }
    return { validPaths: valid.length, contentsChecked: this.contents, linksChecked: this.links, entriesChecked: this.entries, problems: this.problems };
  }

  waiting(message: string): void {
    this.emit({ type: "waiting", message });
  }

  /** "reading the Nix store..." comes before the wait for the lock, as in Nix. */
  reading(): void {
    this.phase("reading");
  }

  /** Nix's verifyPath over every valid path; returns the present ones, sorted. */
  private *checkExistence(valid: readonly StorePath[], listing: ReadonlySet<string>): Sliced<StorePath[]> {
    const store = this.store;
    const done = new Set<string>();
    const present = new Map<string, StorePath>();
    const exists = (path: StorePath): boolean => {
      if (listing.has(path.baseName)) return true;
      // Added after the listing was taken?
      try {
        lstatSync(store.realPath(path));
        return true;
      } catch {
        return false;
      }
    };
    const visit = (path: StorePath): void => {
      if (done.has(path.baseName)) return;
      done.add(path.baseName);
      if (exists(path)) {
        present.set(path.baseName, path);
        return;
      }
      // Referrers first: if they can go, so can this path.
      const referrers = store.queryReferrers(path).filter((r) => r.baseName !== path.baseName);
      for (const referrer of referrers) visit(referrer);
      const printed = store.print(path);
      if (this.invalidate(path)) {
        this.emit({ type: "info", message: `path '${printed}' disappeared, removing from database...` });
        this.problem({ kind: "disappeared", path: printed, detail: `path '${printed}' disappeared and nothing valid refers to it: removed from the database`, repaired: true, nixError: false });
      } else {
        this.problem({
          kind: "missing",
          path: printed,
          detail: `path '${printed}' disappeared, but it still has valid referrers!`,
          repaired: false,
          notRepaired: CONTENT_REPAIR_UNAVAILABLE,
          nixError: true,
        });
      }
    };
    for (const [i, path] of valid.entries()) {
      yield;
      this.emit({ type: "progress", phase: "existence", done: i, total: valid.length, item: path.baseName });
      visit(path);
    }
    return [...present.values()].sort(compareStorePaths);
  }

  /** Removes a missing path from the database unless something valid still refers to it. */
  private invalidate(path: StorePath): boolean {
    const db = this.store.db;
    return db.transaction(() => {
      const id = this.store.idOf(path);
      if (id === undefined) return true;
      const used = db.get("select 1 as one from Refs where reference = ? and referrer != ? limit 1", id, id);
      if (used) return false;
      db.run("delete from ValidPaths where id = ?", id);
      return true;
    });
  }

  private *checkMetadata(present: readonly StorePath[]): Sliced<void> {
    this.phase("metadata");
    const store = this.store;
    const options = {
      checkOnly: this.options.repair !== true,
      keepGoing: true,
      owner: storeOwner(store),
      ignoredXattrs: store.settings.list("ignored-acls"),
    };
    for (const [i, path] of present.entries()) {
      yield;
      this.emit({ type: "progress", phase: "metadata", done: i, total: present.length, item: path.baseName });
      const report = canonicalisePathMetaData(store.realPath(path), options);
      this.entries += report.entries;
      for (const issue of report.issues) {
        const problem = metadataProblem(store.print(path), issue, this.options.repair === true);
        if (problem.kind === "unreadable" || problem.kind === "unsupported-type") this.broken.add(path.baseName);
        this.problem(problem);
      }
    }
  }

  private *checkLinks(): Sliced<void> {
    this.phase("links");
    const linksDir = join(this.store.realStoreDir, ".links");
    let names: string[];
    try {
      names = readdirSync(linksDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      this.problem({ kind: "unreadable", path: linksDir, detail: `reading '${linksDir}': ${describeSystemError(error)}`, repaired: false, nixError: true });
      return;
    }
    for (const [i, name] of names.entries()) {
      yield;
      this.emit({ type: "progress", phase: "links", done: i, total: names.length, item: name });
      const link = join(linksDir, name);
      let actual: string;
      try {
        actual = hashPath(link, "sha256", { bufferSize: narBufferSize(link) }).hash.base32;
      } catch (error) {
        const kind = isUnsupportedType(error) ? "unsupported-type" : "unreadable";
        this.problem({ kind, path: link, detail: errorText(error), repaired: false, nixError: true });
        continue;
      }
      this.links++;
      if (actual === name) continue;
      const detail = `link '${link}' was modified! expected hash '${name}', got '${actual}'`;
      if (!this.options.repair) {
        this.problem({ kind: "link-modified", path: link, detail, repaired: false, nixError: true });
        continue;
      }
      try {
        unlinkSync(link);
        this.problem({ kind: "link-modified", path: link, detail, repaired: true, nixError: false });
        this.emit({ type: "info", message: `removed link '${link}'` });
      } catch (error) {
        this.problem({ kind: "link-modified", path: link, detail, repaired: false, notRepaired: `removing it: ${describeSystemError(error)}`, nixError: true });
      }
    }
  }

  private *checkContents(present: readonly StorePath[]): Sliced<void> {
    this.phase("contents");
    const store = this.store;
    const caseHack = store.settings.bool("use-case-hack");
    for (const [i, path] of present.entries()) {
      yield;
      this.emit({ type: "progress", phase: "contents", done: i, total: present.length, item: path.baseName });
      // Already reported as unreadable or of a bad type: hashing would only say it again.
      if (this.broken.has(path.baseName)) continue;
      const printed = store.print(path);
      let info: PathInfo | undefined;
      try {
        info = store.queryPathInfo(path);
      } catch (error) {
        this.problem({ kind: "bad-record", path: printed, detail: errorText(error), repaired: false, nixError: true });
        continue;
      }
      if (!info) continue; // collected meanwhile
      let actual: { hash: Hash; narSize: number };
      try {
        actual = hashPath(store.realPath(path), info.narHash.algorithm, { caseHack, bufferSize: narBufferSize(store.realPath(path)) });
      } catch (error) {
        if (!store.isValid(path)) continue;
        const kind = isUnsupportedType(error) ? "unsupported-type" : "unreadable";
        const notRepaired = kind === "unreadable" ? "it cannot be read even with canonical permissions" : CONTENT_REPAIR_UNAVAILABLE;
        this.problem({ kind, path: printed, detail: errorText(error), repaired: false, ...(this.options.repair ? { notRepaired } : {}), nixError: true });
        continue;
      }
      this.contents++;
      if (!isNullHash(info.narHash) && !info.narHash.equals(actual.hash)) {
        this.problem({
          kind: "modified",
          path: printed,
          detail: `path '${printed}' was modified! expected hash '${info.narHash.format("base32", true)}', got '${actual.hash.format("base32", true)}'`,
          repaired: false,
          ...(this.options.repair ? { notRepaired: CONTENT_REPAIR_UNAVAILABLE } : {}),
          nixError: true,
        });
        continue;
      }
      this.checkRecordedSize(path, info.narHash, info.narSize, actual);
    }
  }

  /** Fills in a missing hash or size (as Nix does); a wrong size is fixed with --repair. */
  private checkRecordedSize(path: StorePath, recorded: Hash, recordedSize: number, actual: { hash: Hash; narSize: number }): void {
    const printed = this.store.print(path);
    if (isNullHash(recorded)) {
      this.store.db.run("update ValidPaths set hash = ? where path = ?", actual.hash.format("base16", true), printed);
      this.emit({ type: "info", message: `fixing missing hash on '${printed}'` });
      this.problem({ kind: "missing-hash", path: printed, detail: `path '${printed}' has no recorded NAR hash: set to '${actual.hash.format("base32", true)}'`, repaired: true, nixError: false });
    }
    if (recordedSize === actual.narSize) return;
    if (recordedSize === 0) {
      this.store.db.run("update ValidPaths set narSize = ? where path = ?", actual.narSize, printed);
      this.emit({ type: "info", message: `updating size field on '${printed}' to ${actual.narSize}` });
      this.problem({ kind: "nar-size", path: printed, detail: `path '${printed}' has no recorded NAR size: set to ${actual.narSize}`, repaired: true, nixError: false });
      return;
    }
    const detail = `path '${printed}' has the recorded NAR size ${recordedSize}, but its NAR is ${actual.narSize} bytes`;
    if (this.options.repair) this.store.db.run("update ValidPaths set narSize = ? where path = ?", actual.narSize, printed);
    this.problem({ kind: "nar-size", path: printed, detail, repaired: this.options.repair === true, nixError: false });
  }
}

/** Checks (and with `repair`, fixes) the whole store; see the module comment. */
export function verifyStore(store: LocalStore, options: VerifyOptions = {}): VerifyReport {
  const verifier = new Verifier(store, options);
  verifier.reading();
  const unlock = lockGarbageCollector(store, (message) => verifier.waiting(message));
  try {
    return runAtOnce(verifier.run());
  } finally {
    unlock();
  }
}

/**
 * verifyStore for a process serving many clients (the daemon): the lock is
 * waited for and the work done in slices, `pause` between them, so that
 * other clients are served meanwhile (a collector among them waits for the
 * end, as it would for another process).
 */
export async function verifyStoreInSlices(store: LocalStore, options: VerifyOptions, pause?: () => Promise<void>): Promise<VerifyReport> {
  const verifier = new Verifier(store, options);
  verifier.reading();
  const unlock = await lockGarbageCollectorAsync(store, (message) => verifier.waiting(message));
  try {
    return await runInSlices(verifier.run(), pause);
  } finally {
    unlock();
  }
}
