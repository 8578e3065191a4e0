/**
 * Incremental hashers behind one interface, with two back ends:
 * - "noble": @noble/hashes, pure JavaScript, the reference;
 * - "native": Bun.CryptoHasher (BoringSSL), used for bulk data because it is
 *   measured several times faster (scripts/bench prints both throughputs).
 * tests/hash/hasher.test.ts checks that both give identical digests.
 */
import { md5, sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import type { HashAlgorithm } from "./algorithm.ts";
import { Hash } from "./hash.ts";

export interface Hasher {
  readonly algorithm: HashAlgorithm;
  update(data: Uint8Array): void;
  /** Finishes the hasher; it must not be updated afterwards. */
  finish(): Hash;
}

export type HashBackend = "native" | "noble";

const NOBLE = { md5, sha1, sha256, sha512 } as const;

let defaultBackend: HashBackend = "native";

/** Selects the back end used when none is named (benchmarks switch it). */
export function setDefaultHashBackend(backend: HashBackend): void {
  defaultBackend = backend;
}

export function createHasher(algorithm: HashAlgorithm, backend: HashBackend = defaultBackend): Hasher {
  if (backend === "native") {
    const inner = new Bun.CryptoHasher(algorithm);
    return {
      algorithm,
      update: (data) => void inner.update(data),
      finish: () => new Hash(algorithm, new Uint8Array(inner.digest())),
    };
  }
  const inner = NOBLE[algorithm].create();
  return {
    algorithm,
    update: (data) => void inner.update(data),
    finish: () => new Hash(algorithm, inner.digest()),
  };
}

export function hashBytes(algorithm: HashAlgorithm, data: Uint8Array | string, backend?: HashBackend): Hash {
  const hasher = createHasher(algorithm, backend);
  hasher.update(typeof data === "string" ? new TextEncoder().encode(data) : data);
  return hasher.finish();
}

/** SHA-256 of a UTF-8 string: the fingerprint hash used for store paths. */
export function sha256Of(text: string): Hash {
  return hashBytes("sha256", text);
}

/** Hashes a stream of chunks (e.g. a file read in pieces). */
export function hashChunks(algorithm: HashAlgorithm, chunks: Iterable<Uint8Array>, backend?: HashBackend): Hash {
  const hasher = createHasher(algorithm, backend);
  for (const chunk of chunks) hasher.update(chunk);
  return hasher.finish();
}
