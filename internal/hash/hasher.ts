/**
 * Incremental hashers behind one interface, with two back ends:
 * - "noble": @noble/hashes, pure JavaScript, the reference;
 * - "native": Bun.CryptoHasher (BoringSSL), used for bulk data because it is
 *   measured several times faster (scripts/bench prints both throughputs).
 * tests/hash/hasher.test.ts checks that both give identical digests.
 */
import type * as NobleLegacy from "@noble/hashes/legacy.js";
import type * as NobleSha2 from "@noble/hashes/sha2.js";
import type { HashAlgorithm } from "./algorithm.ts";
import { Hash } from "./hash.ts";

export interface Hasher {
  readonly algorithm: HashAlgorithm;
  update(data: Uint8Array): void;
  /** Finishes the hasher; it must not be updated afterwards. */
  finish(): Hash;
}

export type HashBackend = "native" | "noble";

// Loaded on first use: every command starts faster without it (native is the default back end).
let noble: { md5: typeof NobleLegacy.md5; sha1: typeof NobleLegacy.sha1; sha256: typeof NobleSha2.sha256; sha512: typeof NobleSha2.sha512 } | undefined;

function nobleHashes(): NonNullable<typeof noble> {
  if (noble === undefined) {
    const legacy = require("@noble/hashes/legacy.js") as typeof NobleLegacy;
    const sha2 = require("@noble/hashes/sha2.js") as typeof NobleSha2;
    noble = { md5: legacy.md5, sha1: legacy.sha1, sha256: sha2.sha256, sha512: sha2.sha512 };
  }
  return noble;
}

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
  const inner = nobleHashes()[algorithm].create();
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
