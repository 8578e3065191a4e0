/**
 * Signatures of store paths (binary-cache.md 5): Ed25519 over the fingerprint
 *
 *   "1;" path ";" narHash(sha256: + base-32) ";" narSize ";" refs joined by ","
 *
 * written `keyname:base64(signature)`. Keys are `name:base64(key)`: 32 bytes
 * for a public key, 64 (seed then public key, libsodium's layout) for a
 * secret one. node:crypto does the Ed25519 work; raw keys become KeyObjects
 * through their fixed DER prefixes (SPKI / PKCS#8).
 *
 * A path is acceptable from an untrusted source when it is content-addressed
 * (its `ca` really gives its path), or `require-sigs` is off, or one of its
 * signatures verifies with a key of `trusted-public-keys` (or the public half
 * of a `secret-key-files` key).
 */
import type * as NodeCrypto from "node:crypto";
import { readFileSync } from "node:fs";
import { BunixError } from "../errors.ts";
import type { Hash } from "../hash/hash.ts";
import type { Settings } from "../settings/settings.ts";
import { parseContentAddress, pathFromContentAddress } from "../store-path/content-address.ts";
import { type StorePath, compareBytewise } from "../store-path/store-path.ts";
import { InvalidPathError } from "./errors.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";
import { writeThrough } from "./write-queue.ts";

type KeyObject = NodeCrypto.KeyObject;

// node:crypto takes a while to load: only commands that sign or check signatures pay for it.
let cryptoModule: typeof NodeCrypto | undefined;
function nodeCrypto(): typeof NodeCrypto {
  cryptoModule ??= require("node:crypto") as typeof NodeCrypto;
  return cryptoModule;
}

export class SignatureError extends BunixError {
  override name = "SignatureError";
}

const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SIGNATURE_BYTES = 64;

export interface PublicKey {
  readonly name: string;
  readonly key: KeyObject;
}

export interface SecretKey {
  readonly name: string;
  readonly key: KeyObject;
  /** The public half, as `name:base64`. */
  readonly publicText: string;
}

/** Splits `name:base64` at the first ':' (Nix ignores newlines in the base-64 part). */
function splitKey(text: string, kind: "secret" | "public"): { name: string; bytes: Buffer } {
  const colon = text.indexOf(":");
  const name = colon < 0 ? "" : text.slice(0, colon);
  const data = colon < 0 ? "" : text.slice(colon + 1).replace(/\n/g, "");
  if (name === "" || data === "") throw new SignatureError(`${kind} key is corrupt`);
  return { name, bytes: Buffer.from(data, "base64") };
}

export function parsePublicKey(text: string): PublicKey {
  const { name, bytes } = splitKey(text.trim(), "public");
  if (bytes.length !== 32) throw new SignatureError(`public key '${name}' is not valid`);
  return { name, key: nodeCrypto().createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, bytes]), format: "der", type: "spki" }) };
}

export function parseSecretKey(text: string): SecretKey {
  const { name, bytes } = splitKey(text.trim(), "secret");
  if (bytes.length !== 64) throw new SignatureError(`secret key '${name}' is not valid`);
  const key = nodeCrypto().createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, bytes.subarray(0, 32)]), format: "der", type: "pkcs8" });
  return { name, key, publicText: `${name}:${bytes.subarray(32).toString("base64")}` };
}

/** The signed text of a path (binary-cache.md 5.2); `references` are full store paths. */
export function pathFingerprint(path: string, narHash: Hash, narSize: number, references: readonly string[]): string {
  if (narHash.algorithm !== "sha256") throw new SignatureError(`cannot compute the fingerprint of '${path}': its NAR hash is not sha256`);
  if (narSize === 0) throw new SignatureError(`cannot compute the fingerprint of '${path}': its NAR size is not known`);
  return `1;${path};${narHash.format("base32", true)};${narSize};${[...references].sort(compareBytewise).join(",")}`;
}

export function infoFingerprint(store: LocalStore, info: PathInfo): string {
  return pathFingerprint(
    store.print(info.path),
    info.narHash,
    info.narSize,
    info.references.map((r) => store.print(r)),
  );
}

export function signFingerprint(secret: SecretKey, fingerprint: string): string {
  return `${secret.name}:${nodeCrypto().sign(null, Buffer.from(fingerprint), secret.key).toString("base64")}`;
}

/**
 * Whether `signature` is by a known key and verifies. An unknown key name is
 * simply not valid; a known one with a malformed signature is an error.
 */
export function verifySignature(fingerprint: string, signature: string, keys: ReadonlyMap<string, PublicKey>): boolean {
  const colon = signature.indexOf(":");
  if (colon < 0) return false;
  const key = keys.get(signature.slice(0, colon));
  if (!key) return false;
  const bytes = Buffer.from(signature.slice(colon + 1), "base64");
  if (bytes.length !== SIGNATURE_BYTES) throw new SignatureError(`signature '${signature}' is not valid`);
  return nodeCrypto().verify(null, Buffer.from(fingerprint), key.key, bytes);
}

/** trusted-public-keys plus the public halves of the readable secret-key-files; the first key of a name wins. */
export function trustedPublicKeys(settings: Settings): Map<string, PublicKey> {
  const keys = new Map<string, PublicKey>();
  for (const text of settings.list("trusted-public-keys")) {
    const key = parsePublicKey(text);
    if (!keys.has(key.name)) keys.set(key.name, key);
  }
  for (const file of settings.list("secret-key-files")) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // unreadable key files are ignored, as by Nix
    }
    const secret = parseSecretKey(text);
    if (!keys.has(secret.name)) keys.set(secret.name, parsePublicKey(secret.publicText));
  }
  return keys;
}

/** True when the info's content address really produces its path. */
export function isContentAddressed(store: LocalStore, info: PathInfo): boolean {
  if (info.ca === undefined || info.ca === "") return false;
  try {
    const ca = parseContentAddress(info.ca);
    const others = info.references.filter((r) => !r.equals(info.path));
    const self = others.length !== info.references.length;
    return pathFromContentAddress(ca, info.path.name, store.storeDir, others, self).equals(info.path);
  } catch {
    return false;
  }
}

/** The number of signatures that verify with `keys`. */
export function countValidSignatures(store: LocalStore, info: PathInfo, keys: ReadonlyMap<string, PublicKey>): number {
  if (info.signatures.length === 0 || info.narSize === 0) return 0;
  const fingerprint = infoFingerprint(store, info);
  let valid = 0;
  for (const signature of new Set(info.signatures)) if (verifySignature(fingerprint, signature, keys)) valid++;
  return valid;
}

/** Whether a path from an untrusted source may be added (see the module comment). */
export function isTrustworthy(store: LocalStore, info: PathInfo, settings: Settings = store.settings): boolean {
  if (!settings.bool("require-sigs")) return true;
  if (isContentAddressed(store, info)) return true;
  return countValidSignatures(store, info, trustedPublicKeys(settings)) > 0;
}

/** Adds signatures to a valid path's registration (a set: sorted, each once). */
export async function addSignatures(store: LocalStore, path: StorePath, signatures: readonly string[]): Promise<void> {
  const printed = store.print(path);
  await writeThrough(store, () => {
    const row = store.db.get<{ id: number; sigs: string | null }>("select id, sigs from ValidPaths where path = ?", printed);
    if (!row) throw new InvalidPathError(printed);
    const all = new Set([...(row.sigs ?? "").split(" ").filter((s) => s !== ""), ...signatures]);
    const text = [...all].sort(compareBytewise).join(" ");
    store.db.run("update ValidPaths set sigs = ? where id = ?", text === "" ? null : text, row.id);
  });
}
