/**
 * Store path computation (formats.md 2.2-2.7):
 *
 *   fingerprint = type ":sha256:" hex(innerHash) ":" storeDir ":" name
 *   hashPart    = base32(fold20(sha256(fingerprint)))
 *
 * `type` is `text` or `source` followed by ":<ref>" for each sorted reference
 * (and ":self" for a source that refers to itself), or `output:<name>`.
 */
import { encodeBase32 } from "../hash/base32.ts";
import { foldDigest } from "../hash/fold.ts";
import type { Hash } from "../hash/hash.ts";
import { sha256Of } from "../hash/hasher.ts";
import { StorePath, StorePathError, checkName, compareStorePaths } from "./store-path.ts";

/** How content was hashed: `flat` = the file's bytes, `recursive` = its NAR. */
export type IngestionMethod = "flat" | "recursive";

export function makeFingerprint(type: string, innerHash: Hash, name: string, storeDir: string): string {
  if (innerHash.algorithm !== "sha256") throw new StorePathError(`store path fingerprints take a sha256 inner hash, not ${innerHash.algorithm}`);
  return `${type}:sha256:${innerHash.base16}:${storeDir}:${name}`;
}

export function makeStorePath(type: string, innerHash: Hash, name: string, storeDir: string): StorePath {
  checkName(name);
  const digest = sha256Of(makeFingerprint(type, innerHash, name, storeDir)).digest;
  return new StorePath(encodeBase32(foldDigest(digest, 20)), name);
}

/** References form a set: sorted, each once (a .drv's inputSrcs may repeat an inputDrv). */
function typeWithReferences(type: "text" | "source", references: readonly StorePath[], storeDir: string, self: boolean): string {
  let out = type;
  const unique = new Map(references.map((ref) => [ref.baseName, ref]));
  for (const ref of [...unique.values()].sort(compareStorePaths)) out += `:${ref.in(storeDir)}`;
  if (self) out += ":self";
  return out;
}

/** A text object (`builtins.toFile`, `.drv` files): sha256 of the contents, references allowed. */
export function makeTextPath(name: string, contentHash: Hash, references: readonly StorePath[], storeDir: string): StorePath {
  if (contentHash.algorithm !== "sha256") throw new StorePathError(`text paths are hashed with sha256, not ${contentHash.algorithm}`);
  return makeStorePath(typeWithReferences("text", references, storeDir, false), contentHash, name, storeDir);
}

/** The descriptor hashed for fixed outputs other than recursive sha256 (note the trailing ':'). */
export function fixedOutputDescriptor(method: IngestionMethod, hash: Hash): string {
  return `fixed:out:${method === "recursive" ? "r:" : ""}${hash.algorithm}:${hash.base16}:`;
}

/**
 * A fixed-output / content-addressed path. Recursive sha256 is a `source`
 * path (and may carry references and a self reference); everything else is
 * `output:out` over the descriptor and may not have references.
 */
export function makeFixedOutputPath(
  method: IngestionMethod,
  hash: Hash,
  name: string,
  storeDir: string,
  references: readonly StorePath[] = [],
  self = false,
): StorePath {
  if (method === "recursive" && hash.algorithm === "sha256") {
    return makeStorePath(typeWithReferences("source", references, storeDir, self), hash, name, storeDir);
  }
  if (references.length > 0 || self) {
    throw new StorePathError(`a fixed-output path hashed ${method} with ${hash.algorithm} cannot have references`);
  }
  return makeStorePath("output:out", sha256Of(fixedOutputDescriptor(method, hash)), name, storeDir);
}

/** `nix-store --add`: a source path over the NAR hash. */
export function makeSourcePath(name: string, narHash: Hash, storeDir: string): StorePath {
  return makeFixedOutputPath("recursive", narHash, name, storeDir);
}

/** The name of output `output` of derivation `drvName` (formats.md 2.7). */
export function outputPathName(drvName: string, output: string): string {
  return output === "out" ? drvName : `${drvName}-${output}`;
}

/** An input-addressed output path from the derivation's hash modulo. */
export function makeOutputPath(output: string, hashModulo: Hash, drvName: string, storeDir: string): StorePath {
  return makeStorePath(`output:${output}`, hashModulo, outputPathName(drvName, output), storeDir);
}
