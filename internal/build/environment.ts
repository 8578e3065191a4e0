/**
 * The builder's environment and the files beside it (formats.md 6.2):
 * fixed variables, the derivation's env (legacy mode) with passAsFile
 * attributes written to `.attr-<hash>` files, or `.attrs.json`/`.attrs.sh`
 * (structured mode), exportReferencesGraph files, and output placeholders
 * replaced by the output paths everywhere.
 */
import { chownSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Of } from "../hash/hasher.ts";
import type { ByteString, Derivation } from "../derivation/types.ts";
import { toBytes, toUtf8 } from "../derivation/types.ts";
import { BuildError } from "./errors.ts";
import { attrsShell, dumpJson, parseJsonLossless, toJson } from "./structured-attrs.ts";

/** `/` + base-32 of sha256("nix-output:<name>"): what `builtins.placeholder` gives. */
export function outputPlaceholder(output: string): string {
  return `/${sha256Of(`nix-output:${output}`).base32}`;
}

/** Replaces every occurrence of each key (byte strings). */
export function rewriteStrings(text: ByteString, rewrites: ReadonlyMap<string, string>): ByteString {
  let out = text;
  for (const [from, to] of rewrites) if (out.includes(from)) out = out.split(from).join(to);
  return out;
}

/** Splits a legacy list attribute on whitespace, as Nix does. */
export function tokenize(value: string | undefined): string[] {
  return (value ?? "").split(/[ \t\n\r]+/).filter((t) => t !== "");
}

export interface EnvironmentInput {
  drv: Derivation;
  storeDir: string;
  /** Output name -> the path the builder writes it to. */
  outputs: ReadonlyMap<string, string>;
  /** Host build directory and where the builder sees it. */
  buildDirHost: string;
  buildDirInside: string;
  cores: number;
  fixedOutput: boolean;
  /** For impureEnvVars of fixed-output derivations. */
  callerEnv: Record<string, string | undefined>;
  /** The parsed `__json` of structured derivations. */
  structured: Record<string, unknown> | undefined;
  /** exportReferencesGraph: name -> file contents (legacy) or JSON value (structured). */
  referenceGraphs: ReadonlyMap<string, string | unknown>;
  /** Owner of the files written into the build directory. */
  owner: { uid: number; gid: number };
}

/** Writes the build directory's files and returns the environment (name -> byte-string value). */
export function prepareEnvironment(input: EnvironmentInput): Map<string, ByteString> {
  const env = new Map<string, ByteString>();
  const rewrites = new Map([...input.outputs].map(([name, path]) => [outputPlaceholder(name), path]));
  const write = (name: string, contents: Uint8Array | string) => {
    const file = join(input.buildDirHost, name);
    writeFileSync(file, contents, { mode: 0o644 });
    chownSync(file, input.owner.uid, input.owner.gid);
  };
  env.set("PATH", "/path-not-set");
  env.set("HOME", "/homeless-shelter");
  env.set("NIX_STORE", input.storeDir);
  env.set("NIX_BUILD_CORES", String(input.cores));
  if (input.structured === undefined) {
    const passAsFile = new Set(tokenize(input.drv.env.get("passAsFile")));
    for (const [key, value] of input.drv.env) {
      if (!passAsFile.has(key)) {
        env.set(key, value);
        continue;
      }
      const file = `.attr-${sha256Of(key).base32}`;
      write(file, toBytes(rewriteStrings(value, rewrites)));
      env.set(`${key}Path`, `${input.buildDirInside}/${file}`);
    }
    for (const [name, contents] of input.referenceGraphs) write(name, String(contents));
  }
  for (const name of ["NIX_BUILD_TOP", "TMPDIR", "TEMPDIR", "TMP", "TEMP", "PWD"]) env.set(name, input.buildDirInside);
  if (input.fixedOutput) {
    env.set("NIX_OUTPUT_CHECKED", "1");
    for (const name of tokenize(input.drv.env.get("impureEnvVars"))) env.set(name, input.callerEnv[name] ?? "");
  }
  env.set("NIX_LOG_FD", "2");
  env.set("TERM", "xterm-256color");
  if (input.structured !== undefined) {
    // Parsed again without losing number precision, to write what Nix writes.
    const json = parseJsonLossless(toUtf8(input.drv.env.get("__json") ?? "{}"));
    if (!(json instanceof Map)) throw new BuildError("'__json' of a structured-attrs derivation must be a JSON object");
    json.set("outputs", toJson(Object.fromEntries(input.outputs)));
    for (const [name, graph] of input.referenceGraphs) json.set(name, toJson(graph));
    write(".attrs.sh", rewriteStrings(attrsShell(json), rewrites));
    write(".attrs.json", rewriteStrings(dumpJson(json), rewrites));
    // Nix 2.8 sets host paths here, which do not exist in the sandbox; these do.
    env.set("NIX_ATTRS_SH_FILE", `${input.buildDirInside}/.attrs.sh`);
    env.set("NIX_ATTRS_JSON_FILE", `${input.buildDirInside}/.attrs.json`);
  }
  return new Map([...env].map(([k, v]) => [k, rewriteStrings(v, rewrites)]));
}

/** Names in exportReferencesGraph must be safe file names. */
export function checkGraphName(name: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new BuildError(`invalid file name '${name}' in 'exportReferencesGraph'`);
}
