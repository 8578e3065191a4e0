// Store path computation against every kind of path real Nix 2.8 printed (fixtures/store-paths.json).
import { describe, expect, test } from "bun:test";
import { BunixError } from "../../internal/errors.ts";
import { type HashAlgorithm, Hash, hashBytes, parseHash } from "../../internal/hash/index.ts";
import {
  type IngestionMethod,
  StorePath,
  formatContentAddress,
  hashModuloSelfReferences,
  makeFixedOutputPath,
  makeSourcePath,
  makeStorePath,
  makeTextPath,
  parseContentAddress,
  parseStorePath,
  pathFromContentAddress,
} from "../../internal/store-path/index.ts";
import v from "../fixtures/store-paths.json";

const STORE = "/nix/store";
const sha256 = (hex: string) => new Hash("sha256", Buffer.from(hex, "hex"));

describe("nix-store --add (source paths)", () => {
  for (const c of v.source_nix_store_add) {
    test(c.name, () => {
      expect(makeSourcePath(c.name, sha256(c.nar_sha256_base16), STORE).in(STORE)).toBe(c.path);
    });
  }
});

describe("nix-store --add-fixed", () => {
  for (const c of v.fixed_nix_store_add_fixed) {
    test(`${c.method} ${c.algo} ${c.name}`, () => {
      const hash = new Hash(c.algo as HashAlgorithm, Buffer.from(c.hash_base16, "hex"));
      const path = makeFixedOutputPath(c.method as IngestionMethod, hash, c.name, STORE);
      expect(path.in(STORE)).toBe(c.path);
      const ca = formatContentAddress({ method: c.method as IngestionMethod, hash });
      if ("db_ca_column" in c) expect(ca).toBe(c.db_ca_column as string);
      expect(pathFromContentAddress(parseContentAddress(ca), c.name, STORE, [], false).equals(path)).toBe(true);
    });
  }
});

describe("nix-store --print-fixed-path (names and hash forms)", () => {
  for (const c of v.fixed_print_fixed_path) {
    test(`${c.method} ${c.algo} '${c.name.slice(0, 20)}' ${c.accepted ? "accepted" : "rejected"}`, () => {
      const compute = () => makeFixedOutputPath(c.method as IngestionMethod, parseHash(c.hash, c.algo as HashAlgorithm), c.name, STORE);
      if (c.accepted) expect(compute().in(STORE)).toBe(c.path!);
      else expect(compute).toThrow(BunixError);
    });
  }
});

describe("builtins.toFile (text paths)", () => {
  for (const c of v.text_builtins_toFile) {
    test(c.name, () => {
      const refs = c.references.map((r) => parseStorePath(STORE, r));
      const hash = hashBytes("sha256", c.contents);
      expect(makeTextPath(c.name, hash, refs, STORE).in(STORE)).toBe(c.path);
      expect(formatContentAddress({ method: "text", hash })).toBe(c.db_ca_column);
    });
  }
});

describe("derivation outputs and .drv paths", () => {
  for (const c of v.derivation_outputs) {
    test(`${c.drv}.${c.output}`, () => {
      const name = c.output === "out" ? c.path.slice(STORE.length + 34) : c.path.slice(STORE.length + 34);
      expect(makeStorePath(`output:${c.output}`, sha256(c.hash_modulo_base16), name, STORE).in(STORE)).toBe(c.path);
    });
  }
  for (const c of v.derivation_drv_paths) {
    test(`${c.attr}.drv`, () => {
      // The fingerprint is "text[:refs]:sha256:<hex>:<store>:<name>"; recompute from its parts.
      const match = /^(text(?::[^:]+)*):sha256:([0-9a-f]{64}):\/nix\/store:(.+)$/.exec(c.fingerprint)!;
      const refs = match[1]!.split(":").slice(1).map((r) => parseStorePath(STORE, r));
      expect(makeTextPath(match[3]!, sha256(match[2]!), refs, STORE).in(STORE)).toBe(c.path);
    });
  }
});

test("make-content-addressed: references, self reference and hash modulo", () => {
  const c = v.source_with_references_make_content_addressed;
  // The input NAR, with the dependency already rewritten, hashed modulo its own old hash part.
  const input = Buffer.from(c.input_nar_base64, "base64").toString("latin1");
  const rewritten = Buffer.from(input.replaceAll(c.rewritten_dependency.from, c.rewritten_dependency.to), "latin1");
  const oldHashPart = parseStorePath(STORE, c.input_path).hashPart;
  // Split into odd chunks so that a match spans a chunk boundary.
  const chunks = [rewritten.subarray(0, 120), rewritten.subarray(120, 121), rewritten.subarray(121)];
  const modulo = hashModuloSelfReferences(chunks, oldHashPart);
  expect(modulo.offsets).toEqual(c.self_reference_offsets_in_nar);
  expect(modulo.hash.base16).toBe(c.nar_modulo_hash_sha256_base16);
  const dep = parseStorePath(STORE, c.rewritten_dependency.to);
  const path = makeFixedOutputPath("recursive", modulo.hash, "ca-refs", STORE, [dep], true);
  expect(path.in(STORE)).toBe(c.output_path);
  expect(formatContentAddress({ method: "recursive", hash: modulo.hash })).toBe(c.db_ca_column);
});

describe("parsing store paths", () => {
  test("valid paths", () => {
    const p = parseStorePath(STORE, "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt");
    expect(p.hashPart).toBe("i9pmrzmpshapij2kin22pff6fc2adavx");
    expect(p.name).toBe("hello.txt");
    expect(parseStorePath(STORE, "/nix//store/./i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt/").name).toBe("hello.txt");
    expect(StorePath.fromBaseName("89fad1frw0afq1hy78dqrp4v60bpml2x-.hidden").name).toBe(".hidden");
    expect(StorePath.fromBaseName("v17r5l1xbgiqdravaj0dra2js09d47h6-plain.drv").isDerivation()).toBe(true);
  });
  const bad: Array<[string, string]> = [
    ["/nix/store/short", "too short"],
    ["/nix/store/e9pmrzmpshapij2kin22pff6fc2adavx-hello", "hash part"],
    ["/nix/store/i9pmrzmpshapij2kin22pff6fc2adavxXhello", "no '-'"],
    ["/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-a b", "forbidden character ' '"],
    ["/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-", "too short"],
    ["/tmp/i9pmrzmpshapij2kin22pff6fc2adavx-hello", "not in the Nix store"],
    ["/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello/bin", "not in the Nix store"],
    ["relative/i9pmrzmpshapij2kin22pff6fc2adavx-hello", "not an absolute"],
    [`/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-${"a".repeat(212)}`, "longer than 211"],
  ];
  for (const [path, why] of bad) {
    test(`rejects ${path.slice(0, 60)} (${why})`, () => {
      expect(() => parseStorePath(STORE, path)).toThrow(why);
    });
  }
});

test("the store dir is part of the fingerprint", () => {
  const hash = hashBytes("sha256", "hello\n");
  const a = makeTextPath("foo.txt", hash, [], "/nix/store");
  const b = makeTextPath("foo.txt", hash, [], "/gnu/store");
  expect(a.in("/nix/store")).toBe("/nix/store/xl3jbiq4g9jnqn8yp9y4cski5n3ylk1q-foo.txt");
  expect(a.hashPart).not.toBe(b.hashPart);
});

test("content addresses: text only with sha256, every hash encoding parses", () => {
  expect(() => parseContentAddress("text:md5:4425hx5d1mc9y39llj4k4nm55i")).toThrow("only supports sha256");
  expect(() => parseContentAddress("nope:sha256:x")).toThrow("does not start with");
  const ca = parseContentAddress("fixed:md5:b1946ac92492d2347c6235b4d2611184");
  expect(formatContentAddress(ca)).toBe("fixed:md5:4425hx5d1mc9y39llj4k4nm55i");
});
