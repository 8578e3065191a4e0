/**
 * `result` symlinks and the indirect GC roots that keep their targets alive
 * (store-layout.md 5.2): the link points at the output, and
 * `gcroots/auto/<base32(sha1(absolute link path))>` points at the link.
 * Both are created atomically (temporary name, then rename).
 */
import { lstatSync, mkdirSync, readlinkSync, renameSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { encodeBase32 } from "../hash/base32.ts";
import { hashBytes } from "../hash/hasher.ts";
import type { StorePath } from "../store-path/store-path.ts";
import type { LocalStore } from "../store/local-store.ts";
import { BuildError } from "./errors.ts";

function replaceSymlink(target: string, link: string): void {
  const temp = `${link}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  symlinkSync(target, temp);
  renameSync(temp, link);
}

/** Creates `link` -> `path` and registers it as an indirect root; returns the absolute link. */
export function addIndirectRoot(store: LocalStore, path: StorePath, link: string): string {
  const absolute = resolve(link);
  if (absolute.startsWith(`${store.storeDir}/`) || absolute.startsWith(`${store.realStoreDir}/`)) {
    throw new BuildError(`creating a garbage collector root (${absolute}) in the Nix store is forbidden (are you running a build inside the store?)`);
  }
  store.tempRoots.add(store.print(path));
  // Never clobber something that is not already a link into the store.
  let stat;
  try {
    stat = lstatSync(absolute);
  } catch {
    stat = undefined;
  }
  if (stat && (!stat.isSymbolicLink() || !readlinkSync(absolute).startsWith(`${store.storeDir}/`))) {
    throw new BuildError(`cannot create symlink '${absolute}'; already exists`);
  }
  replaceSymlink(store.print(path), absolute);
  registerIndirectRoot(store, absolute);
  return absolute;
}

/** Records an existing link (an absolute path outside the store) as an indirect root: gcroots/auto/<base32(sha1(link))> -> link. */
export function registerIndirectRoot(store: LocalStore, link: string): void {
  const auto = join(store.stateDir, "gcroots", "auto");
  mkdirSync(auto, { recursive: true });
  replaceSymlink(link, join(auto, encodeBase32(hashBytes("sha1", link).digest)));
}

/** nix-build's names: result, result-dev, result-2, result-2-dev, ... */
export function outLinkName(base: string, targetIndex: number, output: string): string {
  return `${base}${targetIndex > 0 ? `-${targetIndex + 1}` : ""}${output === "out" ? "" : `-${output}`}`;
}
