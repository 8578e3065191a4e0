/**
 * Store path arguments, read as Nix's followLinksToStorePath does: the word
 * is made absolute (lexically); while it is not inside the store directory
 * and is a symlink, its target is followed (relative targets against the
 * link's directory). A path inside a store object (`/nix/store/…-foo/bin/x`)
 * names that object. So `./result` works even when it points at a logical
 * `/nix/store/…` path that only exists under a `--store` root.
 *
 * Beyond Nix: where Nix gives up ("not in the Nix store"), a path into the
 * physical store directory of a `--store` root is accepted too.
 */
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { posix } from "node:path";
import { SystemError } from "../../internal/errors.ts";
import { type StorePath, StorePathError, storePathContaining } from "../../internal/store-path/store-path.ts";
import type { LocalStore } from "../../internal/store/local-store.ts";

function isInDir(path: string, dir: string): boolean {
  return path.startsWith(`${dir}/`) && path.length >= dir.length + 2;
}

/** A store path argument: a path in the store, or a symlink into it (like `./result`). */
export function storePathArgument(store: LocalStore, arg: string): StorePath {
  const given = posix.resolve(String(arg));
  let path = given;
  while (!isInDir(path, store.storeDir)) {
    let isLink: boolean;
    try {
      isLink = lstatSync(path).isSymbolicLink();
    } catch (error) {
      if (isInDir(path, store.realStoreDir)) break;
      throw new SystemError(`getting status of '${path}'`, error);
    }
    if (!isLink) break;
    let target: string;
    try {
      target = readlinkSync(path);
    } catch (error) {
      throw new SystemError(`reading symbolic link '${path}'`, error);
    }
    path = posix.resolve(posix.dirname(path), target);
  }
  if (isInDir(path, store.storeDir)) return storePathContaining(store.storeDir, path);
  const physical = physicalObject(store, given);
  if (physical) return physical;
  throw new StorePathError(`path '${path}' is not in the Nix store`);
}

/** The store object a path into the real store directory (after resolving links) lies in. */
function physicalObject(store: LocalStore, path: string): StorePath | undefined {
  if (store.realStoreDir === store.storeDir) return undefined;
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // a dangling path: judge it as written
  }
  for (const candidate of [path, real]) {
    if (isInDir(candidate, store.realStoreDir)) {
      return storePathContaining(store.storeDir, store.storeDir + candidate.slice(store.realStoreDir.length));
    }
  }
  return undefined;
}
