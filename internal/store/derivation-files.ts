/**
 * Reading derivations from `.drv` files (ATerm) or show-derivation JSON, in
 * the store or anywhere else, and resolving input derivations from the store.
 */
import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { BunixError, SystemError } from "../errors.ts";
import { parseDerivation } from "../derivation/aterm-parse.ts";
import type { HashModuloContext } from "../derivation/hash-modulo.ts";
import { parseDerivationJson } from "../derivation/json.ts";
import { type ByteString, type Derivation, DerivationError } from "../derivation/types.ts";
import { checkDerivationName } from "../derivation/validate.ts";
import type { StoreLocation } from "../settings/store-location.ts";
import { DRV_EXTENSION, StorePath, isStorePathIn, parseStorePath } from "../store-path/store-path.ts";

export interface LoadedDerivation {
  readonly derivation: Derivation;
  /** The derivation name (store name without `.drv`). */
  readonly name: string;
  /** The store path, when the file is a store path or the JSON named one. */
  readonly storePath: StorePath | undefined;
  readonly format: "aterm" | "json";
  /** The exact file contents. */
  readonly bytes: Uint8Array;
}

/** The file to read for `arg`: a store path is looked up in the real store dir. */
export function physicalPath(location: StoreLocation, arg: string): string {
  const absolute = posix.resolve(arg);
  if (isStorePathIn(location.storeDir, absolute)) {
    return posix.join(location.realStoreDir, parseStorePath(location.storeDir, absolute).baseName);
  }
  return absolute;
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new SystemError(`reading derivation '${path}'`, error);
  }
}

function storePathNamed(candidate: string): StorePath | undefined {
  const base = posix.basename(candidate);
  try {
    const path = StorePath.fromBaseName(base);
    return path.name.endsWith(DRV_EXTENSION) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a derivation given as a store path or a file (ATerm or JSON). */
export function loadDerivationFile(location: StoreLocation, arg: string): LoadedDerivation {
  const absolute = posix.resolve(arg);
  const inStore = isStorePathIn(location.storeDir, absolute) ? parseStorePath(location.storeDir, absolute) : undefined;
  const file = physicalPath(location, arg);
  const bytes = readBytes(file);
  const json = bytes[0] === 0x7b; // '{'
  let derivation: Derivation;
  let jsonPath: ByteString | undefined;
  try {
    if (json) {
      const parsed = parseDerivationJson(Buffer.from(bytes).toString("utf8"));
      derivation = parsed.derivation;
      jsonPath = parsed.drvPath;
    } else {
      derivation = parseDerivation(bytes);
    }
  } catch (error) {
    if (error instanceof BunixError) throw new DerivationError(`'${arg}': ${error.message}`, { cause: error });
    throw error;
  }
  const storePath = inStore ?? (jsonPath !== undefined ? parseStorePath(location.storeDir, jsonPath) : storePathNamed(file));
  const name = storePath?.derivationName ?? derivation.env.get("name");
  if (name === undefined) {
    throw new DerivationError(`'${arg}': cannot tell the derivation's name: it has no 'name' variable and the file is not named like a store path`);
  }
  checkDerivationName(name);
  return { derivation, name, storePath, format: json ? "json" : "aterm", bytes };
}

/** Hash-modulo context reading input derivations from the store at `location`. */
export function storeDerivationContext(location: StoreLocation): HashModuloContext {
  return {
    storeDir: location.storeDir,
    cache: new Map(),
    load: (drvPath) => {
      const file = posix.join(location.realStoreDir, parseStorePath(location.storeDir, drvPath).baseName);
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(file);
      } catch (error) {
        throw new SystemError(`reading input derivation '${drvPath}' (looked in ${location.realStoreDir}; --store chooses another store)`, error);
      }
      try {
        return parseDerivation(bytes);
      } catch (error) {
        throw new DerivationError(`input derivation '${drvPath}': ${(error as Error).message}`, { cause: error });
      }
    },
  };
}
