/**
 * Adding a path whose info is known, from its NAR (Nix's
 * addToStore(info, source): AddToStoreNar, AddMultipleToStore, copies).
 *
 * Before any byte is read: signatures (when checked) and the content address
 * (it must really give the path). The NAR is then restored into staging
 * while it is hashed; only when it is complete, and its SHA-256 and size are
 * the ones announced, and a content address's hash matches the contents, is
 * the object installed and registered (references must be valid). Any
 * failure leaves nothing registered and no staging directory behind.
 */
import { lstatSync } from "node:fs";
import type { Hash } from "../hash/hash.ts";
import { createHasher, hashChunks } from "../hash/hasher.ts";
import { restoreNar } from "../nar/restore.ts";
import type { ByteSource } from "../stream/byte-source.ts";
import { fdChunksOfFile } from "../stream/file-chunks.ts";
import { type ContentAddress, parseContentAddress, pathFromContentAddress } from "../store-path/content-address.ts";
import type { StorePath } from "../store-path/store-path.ts";
import { StoreError } from "./errors.ts";
import type { LocalStore } from "./local-store.ts";
import { storeError } from "./hinted-error.ts";
import type { PathInfo } from "./path-info.ts";
import { isTrustworthy } from "./signatures.ts";
import { installStaged, withStaging } from "./staging.ts";

export interface AddNarOptions {
  /** Rewrite the object even if the path is valid already. */
  repair?: boolean;
  /** Refuse a path that is neither signed by a trusted key nor content-addressed (unless require-sigs is off). */
  checkSigs: boolean;
  /** Called once the last byte of the NAR has been read (before it is checked). */
  onNarRead?: () => void;
  /** The source holds the NAR alone: anything after it is an error (before anything is installed). */
  requireEnd?: boolean;
}

export type AddNarResult = "added" | "already-valid";

/** The content address of `info`, checked to give its path; undefined when it has none. */
function checkedContentAddress(store: LocalStore, info: PathInfo): ContentAddress | undefined {
  if (info.ca === undefined || info.ca === "") return undefined;
  const printed = store.print(info.path);
  let ca: ContentAddress;
  let expected: StorePath;
  try {
    ca = parseContentAddress(info.ca);
    const others = info.references.filter((r) => !r.equals(info.path));
    expected = pathFromContentAddress(ca, info.path.name, store.storeDir, others, others.length !== info.references.length);
  } catch (error) {
    throw new StoreError(`cannot add path '${printed}': its content address '${info.ca}' is not usable: ${(error as Error).message}`);
  }
  if (!expected.equals(info.path)) {
    throw storeError`cannot add path '${printed}' to the Nix store because it claims to be content-addressed but isn't`;
  }
  return ca;
}

/** The checks that need no NAR byte: on failure a caller can still skip the NAR, however it is sent. */
function checkNarAddition(store: LocalStore, info: PathInfo, options: AddNarOptions): void {
  if (options.checkSigs && !isTrustworthy(store, info)) {
    throw storeError`cannot add path '${store.print(info.path)}' because it lacks a valid signature`;
  }
  if (info.narHash.algorithm !== "sha256") throw new StoreError(`cannot add path '${store.print(info.path)}': its NAR hash must be a SHA-256 hash`);
  checkedContentAddress(store, info);
}

/** The hash a content address covers, of the restored object at `real`. */
function contentHash(ca: ContentAddress, real: string, narHash: Hash, narOther: Hash | undefined, printed: string): Hash {
  if (ca.method === "recursive") return ca.hash.algorithm === "sha256" ? narHash : narOther!;
  const stat = lstatSync(real);
  if (!stat.isFile()) throw new StoreError(`cannot add path '${printed}': its content address '${ca.method}' needs a regular file`);
  return hashChunks(ca.hash.algorithm, fdChunksOfFile(real));
}

/**
 * Adds `info.path` from the NAR read from `nar`. When the path is valid
 * already (and no repair was asked) nothing is read: the caller skips the
 * NAR as its framing allows, and "already-valid" is returned.
 */
export async function addNar(store: LocalStore, info: PathInfo, nar: ByteSource, options: AddNarOptions): Promise<AddNarResult> {
  checkNarAddition(store, info, options);
  const printed = store.print(info.path);
  store.tempRoots.add(printed);
  if (!options.repair && store.isValid(info.path)) return "already-valid";
  const ca = checkedContentAddress(store, info);
  return withStaging(store, async (staging) => {
    const narHasher = createHasher("sha256");
    const otherAlgorithm = ca?.method === "recursive" && ca.hash.algorithm !== "sha256" ? ca.hash.algorithm : undefined;
    const otherHasher = otherAlgorithm ? createHasher(otherAlgorithm) : undefined;
    let size = 0;
    nar.setTap((bytes) => {
      narHasher.update(bytes);
      otherHasher?.update(bytes);
      size += bytes.length;
    });
    try {
      await restoreNar(nar, staging.objectPath, { canonical: true, caseHack: store.settings.bool("use-case-hack"), requireEnd: options.requireEnd ?? false });
    } finally {
      nar.setTap(undefined);
    }
    options.onNarRead?.();
    const narHash = narHasher.finish();
    if (!narHash.equals(info.narHash)) {
      throw storeError`hash mismatch importing path '${printed}';\n  specified: ${info.narHash.toString()}\n  got:       ${narHash.toString()}`;
    }
    if (size !== info.narSize) {
      throw storeError`size mismatch importing path '${printed}';\n  specified: ${info.narSize}\n  got:       ${size}`;
    }
    if (ca) {
      const actual = contentHash(ca, staging.objectPath, narHash, otherHasher?.finish(), printed);
      if (!actual.equals(ca.hash)) {
        throw storeError`ca hash mismatch importing path '${printed}';\n  specified: ${ca.hash.toString()}\n  got:       ${actual.toString()}`;
      }
    }
    const added = await installStaged(store, staging, info, { repair: options.repair ?? false });
    return added ? "added" : "already-valid";
  });
}
