/**
 * A digest with its algorithm, its printed forms (formats.md 1.2-1.5, 1.7) and
 * the "parse any" rules of formats.md 1.6: `algo:text`, SRI `algo-base64`, or
 * bare text when the algorithm is known from context; for non-SRI text the
 * encoding is chosen by length alone.
 */
import { DIGEST_SIZE, HashError, type HashAlgorithm, parseHashAlgorithm } from "./algorithm.ts";
import { decodeBase16, encodeBase16 } from "./base16.ts";
import { base32Length, decodeBase32, encodeBase32 } from "./base32.ts";
import { base64Length, decodeBase64, encodeBase64 } from "./base64.ts";

export type HashEncoding = "base16" | "base32" | "base64" | "sri";

export class Hash {
  constructor(
    readonly algorithm: HashAlgorithm,
    readonly digest: Uint8Array,
  ) {
    if (digest.length !== DIGEST_SIZE[algorithm]) {
      throw new HashError(`a ${algorithm} digest has ${DIGEST_SIZE[algorithm]} bytes, not ${digest.length}`);
    }
  }

  /** Prints the hash; `prefixed` adds `algo:` (ignored for SRI, which always names it). */
  format(encoding: HashEncoding, prefixed = false): string {
    if (encoding === "sri") return `${this.algorithm}-${encodeBase64(this.digest)}`;
    const text =
      encoding === "base16"
        ? encodeBase16(this.digest)
        : encoding === "base32"
          ? encodeBase32(this.digest)
          : encodeBase64(this.digest);
    return prefixed ? `${this.algorithm}:${text}` : text;
  }

  get base16(): string {
    return encodeBase16(this.digest);
  }
  get base32(): string {
    return encodeBase32(this.digest);
  }
  get sri(): string {
    return this.format("sri");
  }

  equals(other: Hash): boolean {
    if (other.algorithm !== this.algorithm) return false;
    for (let i = 0; i < this.digest.length; i++) if (this.digest[i] !== other.digest[i]) return false;
    return true;
  }

  /** Nix's usual textual form: `algo:` + base-32. */
  toString(): string {
    return this.format("base32", true);
  }
}

/** Decodes a digest printed in base-16, Nix base-32 or padded base-64, chosen by length. */
export function decodeDigestByLength(text: string, algorithm: HashAlgorithm, original = text): Uint8Array {
  const size = DIGEST_SIZE[algorithm];
  if (text.length === size * 2) return decodeBase16(text);
  if (text.length === base32Length(size)) return decodeBase32(text, size);
  if (text.length === base64Length(size)) return decodeSized(text, algorithm, original);
  throw new HashError(`hash '${original}' has wrong length for hash type '${algorithm}'`);
}

function decodeSized(base64: string, algorithm: HashAlgorithm, original: string): Uint8Array {
  const digest = decodeBase64(base64);
  if (digest.length !== DIGEST_SIZE[algorithm]) {
    throw new HashError(`invalid base-64 hash '${original}': decodes to ${digest.length} bytes, expected ${DIGEST_SIZE[algorithm]} for ${algorithm}`);
  }
  return digest;
}

/**
 * Parses any textual hash form. `contextAlgorithm` is the algorithm known from
 * where the text came from; when both are present they must agree.
 */
export function parseHash(text: string, contextAlgorithm?: HashAlgorithm): Hash {
  const colon = text.indexOf(":");
  if (colon >= 0) {
    const algorithm = parseHashAlgorithm(text.slice(0, colon));
    checkContext(text, algorithm, contextAlgorithm);
    return new Hash(algorithm, decodeDigestByLength(text.slice(colon + 1), algorithm, text));
  }
  const dash = text.indexOf("-");
  if (dash >= 0) {
    const algorithm = parseHashAlgorithm(text.slice(0, dash));
    checkContext(text, algorithm, contextAlgorithm);
    return new Hash(algorithm, decodeSized(text.slice(dash + 1), algorithm, text));
  }
  if (contextAlgorithm === undefined) {
    throw new HashError(`hash '${text}' does not include a type, nor is the type otherwise known from context`);
  }
  return new Hash(contextAlgorithm, decodeDigestByLength(text, contextAlgorithm));
}

function checkContext(text: string, algorithm: HashAlgorithm, context: HashAlgorithm | undefined): void {
  if (context !== undefined && context !== algorithm) {
    throw new HashError(`hash '${text}' should have type '${context}'`);
  }
}
