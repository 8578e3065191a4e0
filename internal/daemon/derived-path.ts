/**
 * What a client asks to build or make valid (worker-protocol.md 2.9):
 *
 *   minor >= 30   "/s/…-x.drv!out,dev" | "/s/…-x.drv!*" (all outputs) | "/s/…-p" (opaque)
 *   minor <  30   "path[!out1,out2]"; a bare .drv path means all its outputs
 *
 * In the new syntax a path without "!" is opaque even when it is a .drv
 * (the file itself is wanted); in the old one a path with "!" is always a
 * derivation request, as 2.8 reads it.
 */
import type { Wanted } from "../build/missing.ts";
import { type StorePath, parseStorePath } from "../store-path/store-path.ts";

export type DerivedPath = Wanted;

/** Output names as Nix keeps them: a set, sorted bytewise, without empty names. */
function outputNames(text: string): string[] {
  return [...new Set(text.split(",").filter((name) => name !== ""))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function parseDerivedPath(storeDir: string, text: string, minor: number): DerivedPath {
  const bang = text.indexOf("!");
  const path = parseStorePath(storeDir, bang < 0 ? text : text.slice(0, bang));
  if (minor >= 30) {
    if (bang < 0) return { kind: "opaque", path };
    const spec = text.slice(bang + 1);
    const outputs = spec === "*" ? [] : outputNames(spec);
    return outputs.length === 0 ? { kind: "built", drvPath: path } : { kind: "built", drvPath: path, outputs };
  }
  const outputs = bang < 0 ? [] : outputNames(text.slice(bang + 1));
  if (outputs.length === 0 && !path.isDerivation()) return { kind: "opaque", path };
  return outputs.length === 0 ? { kind: "built", drvPath: path } : { kind: "built", drvPath: path, outputs };
}

/** The path as a result echoes it (the new syntax: "!*" for all outputs). */
export function printDerivedPath(storeDir: string, wanted: DerivedPath): string {
  if (wanted.kind === "opaque") return wanted.path.in(storeDir);
  return `${wanted.drvPath.in(storeDir)}!${wanted.outputs === undefined ? "*" : wanted.outputs.join(",")}`;
}

/** The store path a request is about (the .drv for derivations). */
export function subjectOf(wanted: DerivedPath): StorePath {
  return wanted.kind === "opaque" ? wanted.path : wanted.drvPath;
}
