/**
 * What an output's (path, hashAlgo, hash) fields mean (formats.md 4.2):
 *
 *   hashAlgo ""          path set     -> input-addressed
 *   hashAlgo ""          path ""      -> deferred (input-addressed, CA inputs)
 *   hashAlgo "[r:]algo"  hash <digest> -> fixed-output
 *   hashAlgo "[r:]algo"  hash ""       -> floating content-addressed (experimental)
 *   hashAlgo "[r:]algo"  hash "impure" -> impure (experimental)
 */
import { type HashAlgorithm, parseHashAlgorithm } from "../hash/algorithm.ts";
import { type Hash, Hash as HashValue, decodeDigestByLength } from "../hash/hash.ts";
import type { IngestionMethod } from "../store-path/make.ts";
import { type StorePath, parseStorePath } from "../store-path/store-path.ts";
import { type ByteString, DerivationError, type DerivationOutput } from "./types.ts";

export type OutputKind =
  | { readonly kind: "input-addressed"; readonly path: StorePath }
  | { readonly kind: "deferred" }
  | { readonly kind: "fixed"; readonly method: IngestionMethod; readonly hash: Hash }
  | { readonly kind: "floating"; readonly method: IngestionMethod; readonly algorithm: HashAlgorithm }
  | { readonly kind: "impure"; readonly method: IngestionMethod; readonly algorithm: HashAlgorithm };

/** `r:sha256` -> recursive sha256; `sha1` -> flat sha1. */
export function parseMethodAlgorithm(text: ByteString): { method: IngestionMethod; algorithm: HashAlgorithm } {
  if (text.startsWith("text:")) {
    throw new DerivationError(`output hash algorithm '${text}': text-hashed outputs (experimental) are not supported`);
  }
  const recursive = text.startsWith("r:");
  return { method: recursive ? "recursive" : "flat", algorithm: parseHashAlgorithm(recursive ? text.slice(2) : text) };
}

export function formatMethodAlgorithm(method: IngestionMethod, algorithm: HashAlgorithm): string {
  return `${method === "recursive" ? "r:" : ""}${algorithm}`;
}

export function classifyOutput(name: ByteString, output: DerivationOutput, storeDir: string): OutputKind {
  try {
    if (output.hashAlgo === "") {
      if (output.hash !== "") throw new DerivationError("it has a hash but no hash algorithm");
      if (output.path === "") return { kind: "deferred" };
      return { kind: "input-addressed", path: parseStorePath(storeDir, output.path) };
    }
    const { method, algorithm } = parseMethodAlgorithm(output.hashAlgo);
    if (output.hash === "impure") return { kind: "impure", method, algorithm };
    if (output.hash === "") return { kind: "floating", method, algorithm };
    return { kind: "fixed", method, hash: new HashValue(algorithm, decodeDigestByLength(output.hash, algorithm)) };
  } catch (error) {
    throw new DerivationError(`output '${name}': ${(error as Error).message}`, { cause: error });
  }
}
