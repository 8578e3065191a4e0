/**
 * Garbage collector roots (store-layout.md 5.1, 5.2), found as Nix 2.8 finds
 * them:
 *
 * - the trees `<stateDir>/gcroots` and `<stateDir>/profiles`, walked without
 *   following symlinked directories: a symlink into the store is a root; a
 *   symlink elsewhere is an indirect root, one level deep (the link it points
 *   to, e.g. a user's `./result`, must itself point into the store), and
 *   when it dangles under `gcroots/auto/` it is removed; a regular file whose
 *   name is a valid store path's base name roots that path;
 * - temporary roots of running processes (`{temp:PID}`);
 * - runtime roots from /proc (runtime-roots.ts).
 *
 * Only valid paths become roots (temporary roots excepted, as in Nix). A root
 * is reported under the link a user made: an indirect root shows the user's
 * link, not the `auto/` entry.
 */
import { type Dirent, lstatSync, readdirSync, readlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { compareBytewise } from "../store-path/store-path.ts";
import { absPath, isInDir, parsesAsStorePath, storePathOfTarget } from "./names.ts";
import { readTempRoots } from "./temp-roots.ts";

/** Full store path -> the places that root it (links, /proc files, {temp:PID}). */
export type RootMap = Map<string, Set<string>>;

export interface RootContext {
  readonly storeDir: string;
  readonly realStoreDir: string;
  readonly stateDir: string;
  isValid(path: string): boolean;
  /** Informational messages (Nix prints them at the default verbosity). */
  log(message: string): void;
}

export function addRoot(roots: RootMap, path: string, link: string): void {
  let links = roots.get(path);
  if (!links) roots.set(path, (links = new Set()));
  links.add(link);
}

const IGNORED_ERRORS = new Set(["EACCES", "ENOENT", "ENOTDIR"]);

type EntryType = "dir" | "link" | "file" | "other" | "unknown";

function typeOf(entry: Dirent): EntryType {
  if (entry.isDirectory()) return "dir";
  if (entry.isSymbolicLink()) return "link";
  if (entry.isFile()) return "file";
  return "other";
}

function lstatType(path: string): EntryType {
  const st = lstatSync(path);
  return st.isDirectory() ? "dir" : st.isSymbolicLink() ? "link" : st.isFile() ? "file" : "other";
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    throw error;
  }
}

function walk(ctx: RootContext, path: string, type: EntryType, roots: RootMap): void {
  const found = (link: string, target: string) => {
    const storePath = storePathOfTarget(ctx.storeDir, target);
    if (storePath === undefined) return;
    if (ctx.isValid(storePath)) addRoot(roots, storePath, link);
    else ctx.log(`skipping invalid root from '${link}' to '${target}'`);
  };
  try {
    if (type === "unknown") type = lstatType(path);
    if (type === "dir") {
      for (const entry of readdirSync(path, { withFileTypes: true })) walk(ctx, join(path, entry.name), typeOf(entry), roots);
    } else if (type === "link") {
      const target = readlinkSync(path);
      if (isInDir(target, ctx.storeDir)) {
        found(path, target);
        return;
      }
      // An indirect root: the link it names must itself point into the store.
      const resolved = absPath(target, path.slice(0, path.lastIndexOf("/")) || "/");
      if (!exists(resolved)) {
        if (isInDir(path, join(ctx.stateDir, "gcroots", "auto"))) {
          ctx.log(`removing stale link from '${path}' to '${resolved}'`);
          try {
            unlinkSync(path);
          } catch {
            // gone already
          }
        }
        return;
      }
      if (!lstatSync(resolved).isSymbolicLink()) return;
      const target2 = readlinkSync(resolved);
      if (isInDir(target2, ctx.storeDir)) found(resolved, target2);
    } else if (type === "file") {
      const name = path.slice(path.lastIndexOf("/") + 1);
      const storePath = `${ctx.storeDir}/${name}`;
      if (parsesAsStorePath(name) && ctx.isValid(storePath)) addRoot(roots, storePath, path);
    }
  } catch (error) {
    if (!IGNORED_ERRORS.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
    ctx.log(`cannot read potential root '${path}'`);
  }
}

/** Roots under gcroots/ and profiles/. */
export function findPermanentRoots(ctx: RootContext, roots: RootMap = new Map()): RootMap {
  walk(ctx, join(ctx.stateDir, "gcroots"), "unknown", roots);
  walk(ctx, join(ctx.stateDir, "profiles"), "unknown", roots);
  return roots;
}

/** Temporary roots of running processes, as `{temp:PID}` (not checked for validity, as in Nix). */
export function findTempRoots(ctx: RootContext, roots: RootMap = new Map()): RootMap {
  for (const root of readTempRoots(ctx.stateDir)) {
    const storePath = storePathOfTarget(ctx.storeDir, root.path);
    if (storePath !== undefined && storePath === root.path) addRoot(roots, storePath, `{temp:${root.pid}}`);
  }
  return roots;
}

/** `nix-store --gc --print-roots`: "<link> -> <store path>" lines sorted by link, then path. */
export function formatRoots(roots: RootMap): string {
  const pairs: Array<[string, string]> = [];
  for (const [path, links] of roots) for (const link of links) pairs.push([link, path]);
  pairs.sort((a, b) => compareBytewise(a[0], b[0]) || compareBytewise(a[1], b[1]));
  return pairs.map(([link, path]) => `${link} -> ${path}\n`).join("");
}
