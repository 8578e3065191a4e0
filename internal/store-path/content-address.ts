/**
 * Content-address strings (formats.md 2.8), the `ca` column and narinfo field:
 *
 *   text:sha256:<hash>          fixed:[r:]<algo>:<hash>
 *
 * The hash is printed in base-32 and parsed from base-16, base-32 or base-64
 * (chosen by length; no SRI).
 */
import { parseHashAlgorithm } from "../hash/algorithm.ts";
import { Hash, decodeDigestByLength } from "../hash/hash.ts";
import { type IngestionMethod, makeFixedOutputPath, makeTextPath } from "./make.ts";
import { type StorePath, StorePathError } from "./store-path.ts";

export type ContentAddressMethod = "text" | IngestionMethod;

export interface ContentAddress {
  readonly method: ContentAddressMethod;
  readonly hash: Hash;
}

export function formatContentAddress(ca: ContentAddress): string {
  const prefix = ca.method === "text" ? "text:" : ca.method === "recursive" ? "fixed:r:" : "fixed:";
  return `${prefix}${ca.hash.algorithm}:${ca.hash.base32}`;
}

export function parseContentAddress(text: string): ContentAddress {
  let method: ContentAddressMethod;
  let rest: string;
  if (text.startsWith("text:")) {
    method = "text";
    rest = text.slice(5);
  } else if (text.startsWith("fixed:r:")) {
    method = "recursive";
    rest = text.slice(8);
  } else if (text.startsWith("fixed:")) {
    method = "flat";
    rest = text.slice(6);
  } else {
    throw new StorePathError(`content address '${text}' does not start with 'text:' or 'fixed:'`);
  }
  const colon = rest.indexOf(":");
  if (colon < 0) throw new StorePathError(`content address '${text}' lacks ':' between algorithm and hash`);
  const algorithm = parseHashAlgorithm(rest.slice(0, colon));
  if (method === "text" && algorithm !== "sha256") {
    throw new StorePathError(`content address '${text}': text hashing only supports sha256`);
  }
  return { method, hash: new Hash(algorithm, decodeDigestByLength(rest.slice(colon + 1), algorithm, text)) };
}

/** The path that a content address, name and references give (self reference as `self`). */
export function pathFromContentAddress(
  ca: ContentAddress,
  name: string,
  storeDir: string,
  references: readonly StorePath[],
  self: boolean,
): StorePath {
  if (ca.method === "text") {
    if (self) throw new StorePathError(`text path '${name}' cannot refer to itself`);
    return makeTextPath(name, ca.hash, references, storeDir);
  }
  return makeFixedOutputPath(ca.method, ca.hash, name, storeDir, references, self);
}
