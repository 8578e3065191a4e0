/**
 * Store paths (formats.md 2.1): `<storeDir>/<hashPart>-<name>`, where the hash
 * part is 32 characters of Nix base-32 (160 bits) and the name is 1 to 211
 * characters of `A-Z a-z 0-9 + - . _ ? =`. The store dir is not part of a
 * StorePath value: it is configuration, passed where a full path is printed.
 *
 * 2.8 accepts names starting with '.', including '.' and '..', and so do we:
 * real paths such as `…-.hidden` exist. We are stricter than 2.8 in one place:
 * the character after the hash part must be '-' (2.8 does not check it, but
 * no path it creates lacks it).
 */
import { posix } from "node:path";
import { BunixError } from "../errors.ts";
import { isBase32 } from "../hash/base32.ts";

export const HASH_PART_LENGTH = 32;
export const MAX_NAME_LENGTH = 211;
export const DRV_EXTENSION = ".drv";

export class StorePathError extends BunixError {
  override name = "StorePathError";
}

const NAME_CHAR = /^[A-Za-z0-9+\-._?=]$/;

/** Why `name` is not a valid store path name, or undefined when it is. */
export function invalidNameReason(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (name.length > MAX_NAME_LENGTH) return `it is longer than ${MAX_NAME_LENGTH} characters`;
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    if (!NAME_CHAR.test(ch)) return `it contains the forbidden character '${printable(ch)}' at offset ${i}`;
  }
  return undefined;
}

export function checkName(name: string): string {
  const reason = invalidNameReason(name);
  if (reason) throw new StorePathError(`store path name '${printable(name)}' is invalid: ${reason}`);
  return name;
}

function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export class StorePath {
  readonly hashPart: string;
  readonly name: string;

  constructor(hashPart: string, name: string) {
    if (hashPart.length !== HASH_PART_LENGTH || !isBase32(hashPart)) {
      throw new StorePathError(`'${printable(hashPart)}' is not a valid store path hash part (32 characters of Nix base-32)`);
    }
    this.hashPart = hashPart;
    this.name = checkName(name);
  }

  /** Parses a base name such as `i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt`. */
  static fromBaseName(baseName: string): StorePath {
    if (baseName.length < HASH_PART_LENGTH + 2) {
      throw new StorePathError(`path '${printable(baseName)}' is too short to be a valid store path`);
    }
    if (baseName[HASH_PART_LENGTH] !== "-") {
      throw new StorePathError(`path '${printable(baseName)}' is not a valid store path: no '-' after the hash part`);
    }
    return new StorePath(baseName.slice(0, HASH_PART_LENGTH), baseName.slice(HASH_PART_LENGTH + 1));
  }

  get baseName(): string {
    return `${this.hashPart}-${this.name}`;
  }

  isDerivation(): boolean {
    return this.name.endsWith(DRV_EXTENSION);
  }

  /** The derivation name: the store name without `.drv`. */
  get derivationName(): string {
    return this.isDerivation() ? this.name.slice(0, -DRV_EXTENSION.length) : this.name;
  }

  in(storeDir: string): string {
    return `${storeDir}/${this.baseName}`;
  }

  equals(other: StorePath): boolean {
    return this.hashPart === other.hashPart && this.name === other.name;
  }

  toString(): string {
    return this.baseName;
  }
}

/** Bytewise (code point) order of base names, the order of every sorted set of paths. */
export function compareStorePaths(a: StorePath, b: StorePath): number {
  return compareBytewise(a.baseName, b.baseName);
}

/** Compares strings by UTF-8 bytes, i.e. by code point (not by UTF-16 units). */
export function compareBytewise(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * Canonical absolute store dir: absolute, normalised, no trailing slash.
 * Nix bakes it into every fingerprint, so a stray slash would change all paths.
 */
export function canonicalStoreDir(dir: string): string {
  if (!dir.startsWith("/")) throw new StorePathError(`store directory '${dir}' is not an absolute path`);
  const normal = posix.normalize(dir);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/** Parses a full store path (canonicalised lexically first) that lies directly in `storeDir`. */
export function parseStorePath(storeDir: string, path: string): StorePath {
  // The common case, a path already in canonical form, skips normalisation (hot in the daemon).
  if (path.length > storeDir.length + 1 && path.startsWith(storeDir) && path.charCodeAt(storeDir.length) === 0x2f) {
    const base = path.slice(storeDir.length + 1);
    if (!base.includes("/") && base !== "." && base !== "..") return StorePath.fromBaseName(base);
  }
  if (!path.startsWith("/")) throw new StorePathError(`path '${printable(path)}' is not an absolute store path`);
  const canonical = posix.normalize(path).replace(/\/+$/, "");
  const dir = posix.dirname(canonical);
  if (dir !== storeDir) throw new StorePathError(`path '${printable(path)}' is not in the Nix store ${storeDir}`);
  return StorePath.fromBaseName(posix.basename(canonical));
}

/** The store path containing `path` (which may lie inside a store object). */
export function storePathContaining(storeDir: string, path: string): StorePath {
  const canonical = posix.normalize(path);
  const prefix = `${storeDir}/`;
  if (!canonical.startsWith(prefix)) throw new StorePathError(`path '${printable(path)}' is not in the Nix store ${storeDir}`);
  const rest = canonical.slice(prefix.length);
  const slash = rest.indexOf("/");
  return StorePath.fromBaseName(slash < 0 ? rest : rest.slice(0, slash));
}

export function isStorePathIn(storeDir: string, path: string): boolean {
  try {
    parseStorePath(storeDir, path);
    return true;
  } catch (error) {
    if (error instanceof StorePathError) return false;
    throw error;
  }
}
