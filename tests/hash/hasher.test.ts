// Both hash back ends (native Bun.CryptoHasher, @noble/hashes) must agree on every input.
import { expect, test } from "bun:test";
import { HASH_ALGORITHMS, createHasher } from "../../internal/hash/index.ts";
import { Random } from "../helpers/random.ts";

test("native and noble digests are identical, however the input is chunked", () => {
  const rng = new Random(7);
  const sizes = [0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 1000, 65_536, 1 << 20, (1 << 20) + 13];
  for (const algorithm of HASH_ALGORITHMS) {
    for (const size of sizes) {
      const data = rng.bytes(size);
      const native = createHasher(algorithm, "native");
      const noble = createHasher(algorithm, "noble");
      let at = 0;
      while (at < size) {
        const n = Math.min(size - at, 1 + rng.int(70_000));
        native.update(data.subarray(at, at + n));
        noble.update(data.subarray(at, at + n));
        at += n;
      }
      expect(native.finish().base16).toBe(noble.finish().base16);
    }
  }
});
