/**
 * Path signatures (internal/store/signatures.ts) against Nix 2.8's own:
 * fingerprints and signatures from a cache written by `nix copy
 * ?secret-key=` (tests/fixtures/binary-cache/signatures.json), the test key
 * pair, and keys made by `nix key generate-secret` signing paths that
 * `nix store sign` signs identically.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseHash } from "../../internal/hash/hash.ts";
import { loadSettings } from "../../internal/settings/settings.ts";
import { SignatureError, parsePublicKey, parseSecretKey, pathFingerprint, signFingerprint, trustedPublicKeys, verifySignature } from "../../internal/store/signatures.ts";
import { PROJECT, nixEnv, requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

const FIXTURES = join(PROJECT, "tests/fixtures/binary-cache");
const vectors = JSON.parse(readFileSync(join(FIXTURES, "signatures.json"), "utf8")) as {
  public_key: string;
  cases: Array<{ store_path: string; nar_hash: string; nar_size: number; references: string[]; fingerprint: string; signatures: string[] }>;
};
const secretText = readFileSync(join(FIXTURES, "keys/test-key-1.secret"), "utf8");
const publicText = readFileSync(join(FIXTURES, "keys/test-key-1.public"), "utf8");

describe("Nix 2.8's signatures", () => {
  const keys = new Map([["test-key-1", parsePublicKey(publicText)]]);

  for (const c of vectors.cases) {
    test(c.store_path.split("/").pop()!, () => {
      const fingerprint = pathFingerprint(c.store_path, parseHash(c.nar_hash), c.nar_size, c.references);
      expect(fingerprint).toBe(c.fingerprint);
      for (const signature of c.signatures) {
        expect(verifySignature(fingerprint, signature, keys)).toBe(true);
        // Ed25519 is deterministic: signing again gives Nix's exact signature.
        expect(signFingerprint(parseSecretKey(secretText), fingerprint)).toBe(signature);
      }
      expect(verifySignature(`${fingerprint}x`, c.signatures[0]!, keys)).toBe(false);
    });
  }

  test("the secret key file's public half is the public key file", () => {
    expect(parseSecretKey(secretText).publicText).toBe(publicText.trim());
    expect(vectors.public_key).toBe(publicText.trim());
  });

  test("unknown key names do not verify; a malformed signature by a known key is an error", () => {
    const c = vectors.cases[0]!;
    expect(verifySignature(c.fingerprint, c.signatures[0]!.replace("test-key-1", "other-key"), keys)).toBe(false);
    expect(() => verifySignature(c.fingerprint, "test-key-1:AAAA", keys)).toThrow(SignatureError);
  });

  test("corrupt keys are refused with Nix's words", () => {
    expect(() => parsePublicKey("no-colon")).toThrow("public key is corrupt");
    expect(() => parseSecretKey("name:")).toThrow("secret key is corrupt");
    expect(() => parsePublicKey("name:AAAA")).toThrow("is not valid");
  });
});

test("keys from nix key generate-secret sign as nix store sign does", () => {
  requireNix();
  const dir = scratchDir("signatures");
  const env = nixEnv();
  const secret = runOk(["nix", "key", "generate-secret", "--key-name", "made-by-nix-1"], { env }).toString();
  const publicKey = runOk(["nix", "key", "convert-secret-to-public"], { env, stdin: secret }).toString();
  expect(parseSecretKey(secret).publicText).toBe(publicKey.trim());
  const root = join(dir, "root");
  const file = join(dir, "f");
  writeFileSync(file, "signed by nix\n");
  writeFileSync(join(dir, "key"), secret);
  const path = runOk(["nix-store", "--store", root, "--add", file], { env }).toString().trim();
  runOk(["nix", "store", "sign", "--store", root, "--key-file", join(dir, "key"), path], { env });
  const info = JSON.parse(runOk(["nix", "path-info", "--json", "--store", root, path], { env }).toString())[0];
  const fingerprint = pathFingerprint(path, parseHash(info.narHash), info.narSize, info.references);
  expect(info.signatures).toEqual([signFingerprint(parseSecretKey(secret), fingerprint)]);
  expect(verifySignature(fingerprint, info.signatures[0], new Map([["made-by-nix-1", parsePublicKey(publicKey)]]))).toBe(true);
});

test("trusted keys: trusted-public-keys and the public halves of readable secret-key-files", () => {
  const dir = scratchDir("signature-keys");
  writeFileSync(join(dir, "secret"), secretText);
  const settings = loadSettings({
    env: {},
    readFile: () => undefined,
    options: [
      ["trusted-public-keys", "other-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="],
      ["secret-key-files", `${join(dir, "secret")} ${join(dir, "missing")}`],
    ],
  });
  const keys = trustedPublicKeys(settings);
  expect([...keys.keys()].sort()).toEqual(["other-1", "test-key-1"]);
  const c = vectors.cases[1]!;
  expect(verifySignature(c.fingerprint, c.signatures[0]!, keys)).toBe(true);
});
