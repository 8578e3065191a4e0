/**
 * After the builder succeeded (formats.md 6.5): check ownership (before any
 * change), move outputs into the store, canonicalise, scan for references,
 * check fixed-output hashes and the reference constraints, and register all
 * outputs in one transaction, referenced outputs first.
 */
import { closeSync, lstatSync, openSync, renameSync } from "node:fs";
import type { Derivation } from "../derivation/types.ts";
import { toUtf8 } from "../derivation/types.ts";
import type { OutputKind } from "../derivation/output-kind.ts";
import type { Hash } from "../hash/hash.ts";
import { createHasher, hashChunks } from "../hash/hasher.ts";
import { dumpPath } from "../nar/dump.ts";
import { removeTree } from "../nar/restore.ts";
import { fdChunks } from "../stream/file-chunks.ts";
import { formatContentAddress } from "../store-path/content-address.ts";
import { ReferenceScanner } from "../store-path/reference-scanner.ts";
import { type StorePath, compareStorePaths } from "../store-path/store-path.ts";
import { canonicalisePathMetaData } from "../store/canonicalise.ts";
import { computeClosure } from "../store/closure.ts";
import type { LocalStore } from "../store/local-store.ts";
import type { PathInfo } from "../store/path-info.ts";
import { registerValidPaths } from "../store/registration.ts";
import { BuildError, hint } from "./errors.ts";
import { tokenize } from "./environment.ts";
import { checkOutputOwnership } from "./output-checks.ts";

export interface BuiltOutput {
  name: string;
  path: StorePath;
  kind: OutputKind;
  /** Where the builder left it (the sandbox's store dir, or the real store). */
  builtAt: string;
}

interface Scanned {
  output: BuiltOutput;
  narHash: Hash;
  narSize: number;
  references: StorePath[];
}

function narOf(path: string): { narHash: Hash; narSize: number } {
  const hasher = createHasher("sha256");
  let narSize = 0;
  for (const chunk of dumpPath(path)) {
    hasher.update(chunk);
    narSize += chunk.length;
  }
  return { narHash: hasher.finish(), narSize };
}

function scanReferences(path: string, candidates: readonly StorePath[]): StorePath[] {
  const scanner = new ReferenceScanner(candidates.map((c) => c.hashPart));
  for (const chunk of dumpPath(path)) scanner.update(chunk);
  const found = scanner.found();
  return candidates.filter((c) => found.has(c.hashPart)).sort(compareStorePaths);
}

/** The content hash a fixed output declares, recomputed from what was built. */
function fixedOutputHash(kind: OutputKind & { kind: "fixed" }, path: string, drvPath: string): Hash {
  if (kind.method === "recursive") {
    const hasher = createHasher(kind.hash.algorithm);
    for (const chunk of dumpPath(path)) hasher.update(chunk);
    return hasher.finish();
  }
  const st = lstatSync(path);
  if (!st.isFile() || st.mode & 0o100) throw new BuildError(`output path '${path}' should be a non-executable regular file since recursive hashing is not enabled (outputHashMode=flat)`);
  const fd = openSync(path, "r");
  try {
    return hashChunks(kind.hash.algorithm, fdChunks(fd));
  } finally {
    closeSync(fd);
  }
}

/** Reference constraints: allowed/disallowed references/requisites, legacy or structured. */
function checkReferenceConstraints(store: LocalStore, drv: Derivation, structured: Record<string, unknown> | undefined, scanned: readonly Scanned[], drvPath: string): void {
  const byName = new Map(scanned.map((s) => [s.output.name, s]));
  const refsOf = (path: StorePath): StorePath[] => {
    const own = scanned.find((s) => s.output.path.equals(path));
    return own ? own.references : [...store.requireInfo(path).references];
  };
  const resolve = (items: readonly string[]): Set<string> =>
    new Set(items.map((item) => (byName.has(item) ? store.print(byName.get(item)!.output.path) : item)));
  for (const s of scanned) {
    const checks: Record<string, unknown> | undefined = structured
      ? ((structured.outputChecks as Record<string, Record<string, unknown>> | undefined)?.[s.output.name] ?? undefined)
      : undefined;
    const get = (name: string): string[] | undefined => {
      if (structured) {
        const value = checks?.[name];
        return Array.isArray(value) ? value.map(String) : undefined;
      }
      const value = drv.env.get(name);
      return value === undefined ? undefined : tokenize(toUtf8(value));
    };
    const closure = () => computeClosure([s.output.path], refsOf).filter((p) => structured !== undefined || !p.equals(s.output.path));
    const direct = s.references;
    const rules: Array<[string, () => StorePath[], boolean]> = [
      ["allowedReferences", () => direct, true],
      ["allowedRequisites", closure, true],
      ["disallowedReferences", () => direct, false],
      ["disallowedRequisites", closure, false],
    ];
    for (const [name, paths, allowed] of rules) {
      const list = get(name);
      if (list === undefined) continue;
      const spec = resolve(list);
      const bad = paths()
        .filter((path) => (allowed ? !spec.has(store.print(path)) : spec.has(store.print(path))))
        .sort(compareStorePaths);
      if (bad.length > 0) {
        const list = bad.map((path) => `\n  ${store.print(path)}`).join("");
        throw new BuildError(`output '${store.print(s.output.path)}' is not allowed to refer to the following paths:${list}\n(${name} of '${drvPath}')`);
      }
    }
    const maxSize = checks?.maxSize;
    if (typeof maxSize === "number" && s.narSize > maxSize) throw new BuildError(`path '${store.print(s.output.path)}' is too large at ${s.narSize} bytes; limit is ${maxSize} bytes`);
  }
}

export interface ProcessOutputsInput {
  store: LocalStore;
  drvPath: StorePath;
  drv: Derivation;
  structured: Record<string, unknown> | undefined;
  outputs: readonly BuiltOutput[];
  /** The build's input closure: reference candidates besides the outputs. */
  inputs: readonly StorePath[];
  buildUid: number;
  /** Compare with the registered outputs instead of installing (--check). */
  check: boolean;
}

/** Processes and registers the outputs; with `check`, fails when they differ from the valid ones. */
export function processOutputs(input: ProcessOutputsInput): void {
  const { store, drvPath, outputs } = input;
  const drvText = store.print(drvPath);
  for (const output of outputs) {
    try {
      lstatSync(output.builtAt);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      throw new BuildError(hint`builder for '${drvText}' failed to produce output path for output '${output.name}' at '${output.builtAt}'`);
    }
  }
  checkOutputOwnership(outputs.map((o) => ({ name: o.name, path: o.builtAt })), input.buildUid, drvText);
  const inodesSeen = new Set<string>();
  for (const output of outputs) canonicalisePathMetaData(output.builtAt, { inodesSeen, ignoredXattrs: store.settings.list("ignored-acls") });
  const candidates = [...input.inputs, ...outputs.map((o) => o.path)];
  const scanned: Scanned[] = outputs.map((output) => ({ output, ...narOf(output.builtAt), references: scanReferences(output.builtAt, candidates) }));
  for (const s of scanned) {
    if (s.output.kind.kind !== "fixed") continue;
    const actual = fixedOutputHash(s.output.kind, s.output.builtAt, drvText);
    if (!actual.equals(s.output.kind.hash)) {
      throw new BuildError(hint`hash mismatch in fixed-output derivation '${drvText}':\n  specified: ${s.output.kind.hash.sri}\n     got:    ${actual.sri}`).as("hash-mismatch");
    }
    if (s.references.length > 0) throw new BuildError(`the fixed-output derivation '${drvText}' must not have references, but its output refers to ${s.references.map((r) => store.print(r)).join(", ")}`);
  }
  checkReferenceConstraints(store, input.drv, input.structured, scanned, drvText);
  if (input.check) {
    for (const s of scanned) {
      const info = store.queryPathInfo(s.output.path);
      if (info && !info.narHash.equals(s.narHash)) {
        throw new BuildError(`derivation '${drvText}' may not be deterministic: output '${store.realPath(s.output.path)}' differs`).as("not-deterministic");
      }
    }
    return;
  }
  const infos: PathInfo[] = scanned.map((s) => ({
    path: s.output.path,
    narHash: s.narHash,
    narSize: s.narSize,
    references: s.references,
    deriver: drvPath,
    registrationTime: 0,
    ultimate: true,
    signatures: [],
    ca: s.output.kind.kind === "fixed" ? formatContentAddress({ method: s.output.kind.method, hash: s.output.kind.hash }) : undefined,
  }));
  for (const output of outputs) {
    const real = store.realPath(output.path);
    if (output.builtAt !== real) {
      removeTree(real);
      renameSync(output.builtAt, real);
    }
  }
  registerValidPaths(store, infos);
}

