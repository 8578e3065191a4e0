/**
 * XOR folding (formats.md 1.8): the 160-bit store path hash is a SHA-256
 * digest folded onto 20 bytes; `nix-hash --truncate` uses the same fold.
 */
export function foldDigest(digest: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < digest.length; i++) out[i % size]! ^= digest[i]!;
  return out;
}
