/**
 * Hashing files and trees for `bunix hash` and the `nix-hash` alias:
 * choosing the encoding, truncation, and reading the input.
 */
import { UsageError } from "../internal/errors.ts";
import { type HashAlgorithm, parseHashAlgorithm } from "../internal/hash/algorithm.ts";
import { encodeBase16 } from "../internal/hash/base16.ts";
import { encodeBase32 } from "../internal/hash/base32.ts";
import { foldDigest } from "../internal/hash/fold.ts";
import type { Hash, HashEncoding } from "../internal/hash/hash.ts";
import { hashChunks } from "../internal/hash/hasher.ts";
import { hashPath } from "../internal/nar/hash-path.ts";
import { fdChunksOfFile } from "../internal/stream/file-chunks.ts";

export type HashMode = "path" | "file";

export interface HashRequest {
  mode: HashMode;
  algorithm: HashAlgorithm;
  encoding: HashEncoding;
  /** Fold to 160 bits (nix-hash --truncate); base-16 or base-32 only. */
  truncate: boolean;
  caseHack?: boolean;
}

/** Picks the one encoding flag given, or the default. */
export function chooseEncoding(flags: Partial<Record<HashEncoding, unknown>>, fallback: HashEncoding): HashEncoding {
  const given = (["base16", "base32", "base64", "sri"] as const).filter((k) => flags[k]);
  if (given.length > 1) throw new UsageError(`choose one of ${given.map((g) => `--${g}`).join(", ")}`);
  return given[0] ?? fallback;
}

export function algorithmFlag(value: string | undefined, fallback: HashAlgorithm): HashAlgorithm {
  if (value === undefined) return fallback;
  try {
    return parseHashAlgorithm(value);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function hashFileFlat(path: string, algorithm: HashAlgorithm): Hash {
  return hashChunks(algorithm, fdChunksOfFile(path));
}

export function formatHash(hash: Hash, request: Pick<HashRequest, "encoding" | "truncate">): string {
  if (!request.truncate || hash.digest.length <= 20) return hash.format(request.encoding);
  const folded = foldDigest(hash.digest, 20);
  if (request.encoding === "base16") return encodeBase16(folded);
  if (request.encoding === "base32") return encodeBase32(folded);
  throw new UsageError("--truncate only works with base-16 or base-32 output");
}

export function hashOne(path: string, request: HashRequest): string {
  const hash = request.mode === "path" ? hashPath(path, request.algorithm, { caseHack: request.caseHack ?? false }).hash : hashFileFlat(path, request.algorithm);
  return formatHash(hash, request);
}
