/**
 * The store path that adding a file or tree would give (formats.md 2.4-2.5),
 * computed without touching any store: recursive ingestion hashes the NAR
 * (`nix-store --add`, `--add-fixed --recursive`), flat ingestion hashes the
 * bytes of a regular file (`--add-fixed`).
 */
import { lstatSync } from "node:fs";
import { posix } from "node:path";
import { BunixError, SystemError } from "../errors.ts";
import type { HashAlgorithm } from "../hash/algorithm.ts";
import type { Hash } from "../hash/hash.ts";
import { hashChunks } from "../hash/hasher.ts";
import { hashPath } from "../nar/hash-path.ts";
import { fdChunksOfFile } from "../stream/file-chunks.ts";
import { type IngestionMethod, makeFixedOutputPath } from "../store-path/make.ts";
import { type StorePath, checkName } from "../store-path/store-path.ts";

export interface AddPathRequest {
  method: IngestionMethod;
  algorithm: HashAlgorithm;
  /** Defaults to the base name of the path. */
  name?: string | undefined;
}

export interface AddPathResult {
  path: StorePath;
  /** Hash of the content as the method defines it (flat bytes or NAR). */
  hash: Hash;
}

export function computeAddPath(source: string, request: AddPathRequest, storeDir: string): AddPathResult {
  const name = checkName(request.name ?? posix.basename(posix.resolve(source)));
  let hash: Hash;
  if (request.method === "flat") {
    let stat;
    try {
      stat = lstatSync(source);
    } catch (error) {
      throw new SystemError(`getting status of '${source}'`, error);
    }
    // Like Nix 2.8, a symlink is not followed: flat ingestion takes a regular file only.
    if (!stat.isFile()) throw new BunixError(`'${source}' is not a regular file: flat hashing needs one (drop --flat to add it recursively)`);
    hash = hashChunks(request.algorithm, fdChunksOfFile(source));
  } else {
    try {
      lstatSync(source);
    } catch (error) {
      throw new SystemError(`getting status of '${source}'`, error);
    }
    hash = hashPath(source, request.algorithm).hash;
  }
  return { path: makeFixedOutputPath(request.method, hash, name, storeDir), hash };
}
