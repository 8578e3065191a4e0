// Hash encodings and parsing against values printed by real Nix 2.8 (fixtures/base32.json).
import { describe, expect, test } from "bun:test";
import { BunixError } from "../../internal/errors.ts";
import {
  type HashAlgorithm,
  Hash,
  decodeBase32,
  encodeBase32,
  foldDigest,
  hashBytes,
  parseHash,
} from "../../internal/hash/index.ts";
import vectors from "../fixtures/base32.json";

describe("every algorithm and encoding on real Nix's inputs", () => {
  for (const v of vectors.hashes) {
    test(`${v.algo} of ${v.input_label}`, () => {
      const hash = hashBytes(v.algo as HashAlgorithm, Buffer.from(v.input_base64, "base64"));
      expect(hash.format("base16")).toBe(v.base16);
      expect(hash.format("base32")).toBe(v.base32);
      expect(hash.format("base64")).toBe(v.base64);
      expect(hash.format("sri")).toBe(v.sri);
      for (const text of [v.base16, v.base32, v.base64, v.sri, `${v.algo}:${v.base32}`]) {
        expect(parseHash(text, v.algo as HashAlgorithm).equals(hash)).toBe(true);
      }
    });
  }
});

describe("parse any form (nix hash to-base16)", () => {
  for (const c of vectors.parse) {
    test(c.input, () => {
      if (c.accepted) expect(parseHash(c.input).base16).toBe(c.base16!);
      else expect(() => parseHash(c.input)).toThrow(BunixError);
    });
  }
  test("an explicit algorithm must agree with the context", () => {
    expect(() => parseHash("md5:4425hx5d1mc9y39llj4k4nm55i", "sha256")).toThrow("should have type 'sha256'");
  });
  test("bare text needs a context algorithm", () => {
    expect(() => parseHash("4425hx5d1mc9y39llj4k4nm55i")).toThrow("does not include a type");
    expect(parseHash("4425hx5d1mc9y39llj4k4nm55i", "md5").base16).toBe("b1946ac92492d2347c6235b4d2611184");
  });
  test("unknown and upper-case algorithm names are rejected", () => {
    expect(() => parseHash("SHA256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq")).toThrow("unknown hash algorithm");
  });
});

describe("Nix base-32", () => {
  test("round trips every digest size", () => {
    for (const size of [16, 20, 32, 64]) {
      for (let i = 0; i < 50; i++) {
        const bytes = crypto.getRandomValues(new Uint8Array(size));
        expect(decodeBase32(encodeBase32(bytes), size)).toEqual(bytes);
      }
    }
  });
  test("rejects bits beyond the digest and letters outside the alphabet", () => {
    expect(() => decodeBase32(`2${"0".repeat(51)}`, 32)).toThrow("more than 256 bits");
    expect(() => decodeBase32(`${"0".repeat(51)}e`, 32)).toThrow("character 'e'");
    expect(decodeBase32(`1${"0".repeat(51)}`, 32)[31]).toBe(0x80);
  });
});

describe("XOR fold to 160 bits", () => {
  for (const c of vectors.compress_to_20_bytes) {
    test(c.store_path_from_real_nix, () => {
      const folded = foldDigest(Buffer.from(c.sha256_base16, "hex"), 20);
      expect(Buffer.from(folded).toString("hex")).toBe(c.compressed20_base16);
      expect(encodeBase32(folded)).toBe(c.compressed20_base32);
      expect(c.store_path_from_real_nix).toContain(`/${c.compressed20_base32}-`);
    });
  }
});

test("a digest of the wrong size is refused", () => {
  expect(() => new Hash("sha256", new Uint8Array(20))).toThrow(BunixError);
});
