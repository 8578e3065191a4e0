/**
 * Runtime roots (store-layout.md 5.1): store paths that running processes
 * use, found in /proc as Nix 2.8 finds them: the targets of
 * `/proc/<pid>/exe`, `cwd` and `fd/*`, the file column of `maps`, store paths
 * mentioned in `environ`, and the contents of three kernel settings. Entries
 * that cannot be read (processes gone, no permission) are skipped.
 *
 * Besides the logical store directory, bunix also recognises paths under the
 * real store directory of a chroot store (`--store ROOT`), where a process
 * working on the store's files sees them; Nix 2.8 does not. The two coincide
 * for an ordinary store.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { type RootContext, type RootMap, addRoot } from "./roots.ts";
import { storePathOfTarget } from "./names.ts";

const MAP_LINE = /^\s*\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\/\S+)\s*$/;
const KERNEL_FILES = ["/proc/sys/kernel/modprobe", "/proc/sys/kernel/fbsplash", "/proc/sys/kernel/poweroff_cmd"];

function escapeRegex(text: string): string {
  return text.replace(/[.^$\\*+?()[\]{}|]/g, "\\$&");
}

/** target -> the /proc files that mention it */
type Unchecked = Map<string, Set<string>>;

function note(unchecked: Unchecked, target: string, file: string): void {
  let files = unchecked.get(target);
  if (!files) unchecked.set(target, (files = new Set()));
  files.add(file);
}

function readLink(file: string, unchecked: Unchecked): void {
  let target: string;
  try {
    target = readlinkSync(file, "latin1");
  } catch {
    return;
  }
  if (target.startsWith("/")) note(unchecked, target, file);
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "latin1");
  } catch {
    return undefined;
  }
}

function scanProcess(pid: string, environPatterns: readonly RegExp[], unchecked: Unchecked): void {
  readLink(`/proc/${pid}/exe`, unchecked);
  readLink(`/proc/${pid}/cwd`, unchecked);
  const fdDir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = readdirSync(fdDir);
  } catch {
    return;
  }
  for (const fd of fds) if (!fd.startsWith(".")) readLink(`${fdDir}/${fd}`, unchecked);
  const mapsFile = `/proc/${pid}/maps`;
  const maps = readText(mapsFile);
  if (maps === undefined) return;
  for (const line of maps.split("\n")) {
    const match = MAP_LINE.exec(line);
    if (match) note(unchecked, match[1]!, mapsFile);
  }
  const environFile = `/proc/${pid}/environ`;
  const environ = readText(environFile);
  if (environ === undefined) return;
  for (const pattern of environPatterns) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(environ); m; m = pattern.exec(environ)) note(unchecked, m[0], environFile);
  }
}

/** Adds the valid store paths that running processes use to `roots`, each with the /proc file that shows it. */
export function findRuntimeRoots(ctx: RootContext, roots: RootMap = new Map()): RootMap {
  const dirs = ctx.realStoreDir === ctx.storeDir ? [ctx.storeDir] : [ctx.storeDir, ctx.realStoreDir];
  const environPatterns = dirs.map((dir) => new RegExp(`${escapeRegex(dir)}/[0-9a-z]+[0-9a-zA-Z+\\-._?=]*`, "g"));
  const unchecked: Unchecked = new Map();
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    // no /proc: no runtime roots
  }
  for (const pid of pids) scanProcess(pid, environPatterns, unchecked);
  for (const file of KERNEL_FILES) {
    const text = readText(file);
    if (text !== undefined) note(unchecked, text, file);
  }
  for (const [target, files] of unchecked) {
    let storePath = storePathOfTarget(ctx.storeDir, target);
    if (storePath === undefined && dirs.length > 1) {
      const real = storePathOfTarget(ctx.realStoreDir, target);
      if (real !== undefined) storePath = ctx.storeDir + real.slice(ctx.realStoreDir.length);
    }
    if (storePath === undefined || !ctx.isValid(storePath)) continue;
    for (const file of files) addRoot(roots, storePath, file);
  }
  return roots;
}
