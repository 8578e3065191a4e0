/** NAR hash and size of a file system tree, the way `nix-hash` and `nix-store --add` compute them. */
import type { HashAlgorithm } from "../hash/algorithm.ts";
import type { Hash } from "../hash/hash.ts";
import { type HashBackend, createHasher } from "../hash/hasher.ts";
import { type DumpOptions, dumpPath } from "./dump.ts";

export interface PathHash {
  hash: Hash;
  narSize: number;
}

export function hashPath(path: string, algorithm: HashAlgorithm = "sha256", options: DumpOptions & { backend?: HashBackend } = {}): PathHash {
  const hasher = createHasher(algorithm, options.backend);
  let narSize = 0;
  for (const chunk of dumpPath(path, options)) {
    hasher.update(chunk);
    narSize += chunk.length;
  }
  return { hash: hasher.finish(), narSize };
}
