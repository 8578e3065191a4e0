/**
 * Bringing a local store into existence and into a usable state, as Nix 2.8
 * does on every open (store-layout.md 1, 2, 3.1, 4.1, 5.8): directories,
 * the store dir's group and mode, a writable view of a read-only store, the
 * reserved-space file, the big lock, and the database schema.
 */
import { chmodSync, chownSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { CLONE_NEWNS, MS_BIND, MS_PRIVATE, MS_REC, MS_REMOUNT, chmodAll, fallocate, isReadOnlyMount, mount, unshare } from "../../ffi/libc.ts";
import { BunixError, SystemError } from "../errors.ts";
import { currentUserName, groupByName } from "../os/accounts.ts";
import type { Settings } from "../settings/settings.ts";
import type { StoreLocation } from "../settings/store-location.ts";
import { StoreDatabase } from "./database.ts";
import { lockFd, openLockFile, tryLockFd } from "./locks.ts";
import { OLDEST_UPGRADABLE_SCHEMA, SCHEMA_SQL, SCHEMA_VERSION, upgradeSteps } from "./schema.ts";

export class StoreOpenError extends BunixError {
  override name = "StoreOpenError";
}

export interface StoreFiles {
  readonly dbDir: string;
  readonly dbFile: string;
  readonly schemaFile: string;
  readonly bigLock: string;
}

export function storeFiles(location: StoreLocation): StoreFiles {
  const dbDir = join(location.stateDir, "db");
  return { dbDir, dbFile: join(dbDir, "db.sqlite"), schemaFile: join(dbDir, "schema"), bigLock: join(dbDir, "big-lock") };
}

/** Whether a store database exists at this location. */
export function storeExists(location: StoreLocation): boolean {
  const files = storeFiles(location);
  return existsSync(files.schemaFile) || existsSync(files.dbFile);
}

function makeDir(path: string, mode?: number): boolean {
  if (existsSync(path)) return false;
  try {
    mkdirSync(path, { recursive: true });
  } catch (error) {
    throw new SystemError(`creating directory '${path}'`, error);
  }
  if (mode !== undefined) chmodSync(path, mode);
  return true;
}

/** Refuses a store dir reached through a symlink (allow-symlinked-store). */
function checkNoSymlinks(path: string): void {
  for (let p = path; p !== "/" && p !== "."; p = dirname(p)) {
    let isLink = false;
    try {
      isLink = lstatSync(p).isSymbolicLink();
    } catch {
      continue;
    }
    if (isLink) {
      throw new StoreOpenError(`the path '${p}' is a symlink; this is not allowed for the Nix store and its parent directories (set allow-symlinked-store to override)`);
    }
  }
}

function createDirectories(location: StoreLocation): void {
  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  const state = location.stateDir;
  makeDir(location.realStoreDir);
  makeDir(join(location.realStoreDir, ".links"));
  makeDir(join(state, "profiles"));
  makeDir(join(state, "temproots"));
  makeDir(join(state, "db"));
  if (makeDir(join(state, "gcroots"))) {
    try {
      symlinkSync(join(state, "profiles"), join(state, "gcroots", "profiles"));
    } catch {
      // another process made it first
    }
  }
  for (const dir of [join(state, "profiles", "per-user"), join(state, "gcroots", "per-user")]) {
    makeDir(dir);
    chmodSync(dir, 0o755);
    const own = join(dir, currentUserName());
    makeDir(own);
    chmodSync(own, 0o755);
    if (euid === 0 || statSync(own).uid !== euid) {
      try {
        chownSync(own, euid, egid);
      } catch {
        // not ours to change
      }
    }
  }
}

/** Root with a build users group: root:<group> 1775, so build users can create outputs but not delete others'. */
function setStorePermissions(location: StoreLocation, settings: Settings): string | undefined {
  if ((process.geteuid?.() ?? 1) !== 0) return undefined;
  const groupName = settings.string("build-users-group");
  if (groupName === "") return undefined;
  const group = groupByName(groupName);
  if (!group) return `the group '${groupName}' specified in 'build-users-group' does not exist`;
  const st = statSync(location.realStoreDir);
  if (st.uid !== 0 || st.gid !== group.gid || (st.mode & 0o7777) !== 0o1775) {
    chownSync(location.realStoreDir, 0, group.gid);
    chmodAll(location.realStoreDir, 0o1775);
  }
  return undefined;
}

/** A read-only store (e.g. a read-only bind mount) is made writable in a private mount namespace. */
function makeStoreWritable(location: StoreLocation): void {
  if ((process.geteuid?.() ?? 1) !== 0) return;
  if (!isReadOnlyMount(location.realStoreDir)) return;
  try {
    unshare(CLONE_NEWNS);
    // Keep the remount from propagating to the host through shared mounts.
    mount(null, "/", null, MS_REC | MS_PRIVATE);
    mount(null, location.realStoreDir, null, MS_REMOUNT | MS_BIND);
  } catch (error) {
    throw new SystemError(`remounting '${location.realStoreDir}' writable in a private mount namespace`, error);
  }
}

function reserveSpace(location: StoreLocation, bytes: number): void {
  const path = join(location.stateDir, "db", "reserved");
  try {
    if (existsSync(path) && statSync(path).size === bytes) return;
    const fd = openSync(path, "w", 0o600);
    try {
      try {
        fallocate(fd, bytes);
      } catch {
        const block = Buffer.alloc(1 << 20, "X");
        for (let left = bytes; left > 0; left -= Math.min(left, block.length)) writeSync(fd, block, 0, Math.min(left, block.length));
      }
    } finally {
      closeSync(fd);
    }
  } catch {
    // Nix ignores failures here: the reserve is a courtesy to a future GC.
  }
}

function readSchemaVersion(files: StoreFiles): number {
  if (!existsSync(files.schemaFile)) return 0;
  const text = readFileSync(files.schemaFile, "utf8").trim();
  const version = Number(text);
  if (!/^\d+$/.test(text)) throw new StoreOpenError(`'${files.schemaFile}' is corrupt: expected a schema version, found '${text}'`);
  return version;
}

function writeSchemaVersion(files: StoreFiles): void {
  const temp = `${files.schemaFile}.tmp-${process.pid}`;
  writeFileSync(temp, String(SCHEMA_VERSION), { mode: 0o644 });
  renameSync(temp, files.schemaFile);
}

export interface OpenedStore {
  db: StoreDatabase;
  bigLockFd: number;
  warnings: string[];
}

/** Creates what is missing, takes the big lock, and opens (creating or upgrading) the database. */
export function openLocalStore(location: StoreLocation, settings: Settings): OpenedStore {
  if (!settings.bool("allow-symlinked-store")) checkNoSymlinks(location.realStoreDir);
  createDirectories(location);
  makeStoreWritable(location);
  const warning = setStorePermissions(location, settings);
  reserveSpace(location, settings.int("gc-reserved-space"));

  const files = storeFiles(location);
  const bigLockFd = openLockFile(files.bigLock);
  if (!tryLockFd(bigLockFd, "shared", files.bigLock)) {
    process.stderr.write("waiting for the big Nix store lock...\n");
    lockFd(bigLockFd, "shared", files.bigLock);
  }
  const options = { wal: settings.bool("use-sqlite-wal"), fsync: settings.bool("fsync-metadata") };
  let version = readSchemaVersion(files);
  if (version > SCHEMA_VERSION) {
    throw new StoreOpenError(`current Nix store schema is version ${version}, but I only support ${SCHEMA_VERSION}`);
  }
  if (version > 0 && version < OLDEST_UPGRADABLE_SCHEMA) {
    throw new StoreOpenError(`your Nix store has a database in Berkeley DB format (schema ${version}), which is no longer supported`);
  }
  if (version < SCHEMA_VERSION) {
    // Creating or upgrading needs the store to ourselves.
    if (!tryLockFd(bigLockFd, "exclusive", files.bigLock)) {
      process.stderr.write("waiting for exclusive access to the Nix store...\n");
      lockFd(bigLockFd, "exclusive", files.bigLock);
    }
    version = readSchemaVersion(files);
    if (version < SCHEMA_VERSION) {
      const db = new StoreDatabase(files.dbFile, { ...options, create: true });
      db.transaction(() => {
        if (version === 0) db.exec(SCHEMA_SQL);
        else for (const step of upgradeSteps(version)) db.exec(step);
      });
      db.close();
      writeSchemaVersion(files);
    }
    lockFd(bigLockFd, "shared", files.bigLock);
  }
  const db = new StoreDatabase(files.dbFile, { ...options, create: false });
  return { db, bigLockFd, warnings: warning ? [warning] : [] };
}

/** A store that does not exist yet reads as empty, without creating anything. */
export function emptyDatabase(): StoreDatabase {
  const db = new StoreDatabase(":memory:", { create: true, wal: false, fsync: false });
  db.exec(SCHEMA_SQL);
  return db;
}
