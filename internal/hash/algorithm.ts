/**
 * The four hash algorithms Nix 2.8 knows (formats.md 1.1). Any other name,
 * including upper-case spellings, is rejected as Nix does.
 */
import { BunixError } from "../errors.ts";

export type HashAlgorithm = "md5" | "sha1" | "sha256" | "sha512";

export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ["md5", "sha1", "sha256", "sha512"];

/** Digest length in bytes. */
export const DIGEST_SIZE: Readonly<Record<HashAlgorithm, number>> = {
  md5: 16,
  sha1: 20,
  sha256: 32,
  sha512: 64,
};

export class HashError extends BunixError {
  override name = "HashError";
}

export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(name);
}

export function parseHashAlgorithm(name: string): HashAlgorithm {
  if (isHashAlgorithm(name)) return name;
  throw new HashError(`unknown hash algorithm '${name}' (expected one of ${HASH_ALGORITHMS.join(", ")})`);
}
