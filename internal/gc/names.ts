/**
 * Names as the collector sees them, with Nix 2.8's exact rules: which
 * entries of the store directory count as store paths (anything else is
 * garbage), and which store path a root's target names.
 *
 * Nix 2.8's StorePath accepts a base name of at least 33 characters whose
 * first 32 are Nix base-32 and whose name part (from character 34 on) uses
 * only `[0-9a-zA-Z+\-._?=]`, 1..211 long; character 33 itself is not checked.
 * So `<hash>-foo.lock` and `<hash>-foo.drv.chroot` are (invalid) store paths,
 * while `.links`, `trash` and `.tmp-link-1-2` are not.
 */
import { HASH_PART_LENGTH, MAX_NAME_LENGTH } from "../store-path/store-path.ts";

function isHashChar(c: number): boolean {
  // 0-9 and a-z without e, o, u, t
  if (c >= 0x30 && c <= 0x39) return true;
  return c >= 0x61 && c <= 0x7a && c !== 0x65 && c !== 0x6f && c !== 0x75 && c !== 0x74;
}

function isNameChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    c === 0x2b || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x3f || c === 0x3d
  );
}

/** Whether Nix 2.8 parses `baseName` as a store path (valid or not). */
export function parsesAsStorePath(baseName: string): boolean {
  if (baseName.length < HASH_PART_LENGTH + 1) return false;
  for (let i = 0; i < HASH_PART_LENGTH; i++) if (!isHashChar(baseName.charCodeAt(i))) return false;
  const nameLength = baseName.length - HASH_PART_LENGTH - 1;
  if (nameLength < 1 || nameLength > MAX_NAME_LENGTH) return false;
  for (let i = HASH_PART_LENGTH + 1; i < baseName.length; i++) if (!isNameChar(baseName.charCodeAt(i))) return false;
  return true;
}

/** Lexical normalisation (no symlinks followed): "//", "." and ".." removed, as Nix's canonPath. */
export function canonPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/** `target` made absolute against `dir`, then normalised (Nix's absPath). */
export function absPath(target: string, dir: string): string {
  return canonPath(target.startsWith("/") ? target : `${dir}/${target}`);
}

/** Whether `path` lies strictly inside `dir` (Nix's isInDir). */
export function isInDir(path: string, dir: string): boolean {
  return path.length >= dir.length + 2 && path.startsWith(dir) && path[dir.length] === "/";
}

/**
 * The full store path that `target` (a path inside `storeDir`) belongs to,
 * or undefined when it names none (Nix's toStorePath, BadStorePath ignored).
 */
export function storePathOfTarget(storeDir: string, target: string): string | undefined {
  if (!isInDir(target, storeDir)) return undefined;
  const slash = target.indexOf("/", storeDir.length + 1);
  const first = canonPath(slash < 0 ? target : target.slice(0, slash));
  const cut = first.lastIndexOf("/");
  if (first.slice(0, cut) !== storeDir) return undefined;
  return parsesAsStorePath(first.slice(cut + 1)) ? first : undefined;
}
