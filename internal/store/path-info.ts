/**
 * What the database records about a valid path (store-layout.md 3.2), and
 * its conversion from and to `ValidPaths` rows.
 *
 * Row conventions of Nix 2.8: hash is `sha256:` + base-16; narSize 0 is
 * stored as NULL; ultimate is 1 or NULL; sigs is space-separated or NULL.
 */
import { type Hash, parseHash } from "../hash/hash.ts";
import { type StorePath, compareStorePaths, parseStorePath } from "../store-path/store-path.ts";
import { DatabaseError, type Row } from "./database.ts";

export interface PathInfo {
  readonly path: StorePath;
  readonly narHash: Hash;
  /** 0 when unknown. */
  readonly narSize: number;
  /** Sorted; includes the path itself when it refers to itself. */
  readonly references: readonly StorePath[];
  readonly deriver: StorePath | undefined;
  /** Unix seconds; 0 means "now" when registering. */
  readonly registrationTime: number;
  readonly ultimate: boolean;
  readonly signatures: readonly string[];
  /** Content address text (`fixed:...`, `text:...`), when content-addressed. */
  readonly ca: string | undefined;
}

export interface ValidPathRow extends Row {
  id: number;
  path: string;
  hash: string;
  registrationTime: number;
  deriver: string | null;
  narSize: number | null;
  ultimate: number | null;
  sigs: string | null;
  ca: string | null;
}

/** A row with its references as stored (printed paths, unsorted). */
export interface PathRecord {
  row: ValidPathRow;
  references: string[];
}

export function hashColumn(hash: Hash): string {
  return hash.format("base16", true);
}

/** The row's NAR hash column, parsed. */
export function narHashOfRow(row: ValidPathRow): Hash {
  try {
    return parseHash(row.hash);
  } catch (error) {
    throw new DatabaseError(`the database records an invalid hash '${row.hash}' for '${row.path}'`, { cause: error });
  }
}

/** The row's columns that need no parsing, in PathInfo's terms. */
export function plainFieldsOfRow(row: ValidPathRow): Pick<PathInfo, "narSize" | "registrationTime" | "ultimate" | "signatures"> {
  return {
    narSize: row.narSize === null ? 0 : Number(row.narSize),
    registrationTime: Number(row.registrationTime),
    ultimate: row.ultimate !== null && Number(row.ultimate) !== 0,
    signatures: row.sigs ? row.sigs.split(" ").filter((s) => s !== "") : [],
  };
}

/** A row to a PathInfo; `references` come from the Refs table. */
export function pathInfoFromRow(row: ValidPathRow, references: StorePath[], storeDir: string): PathInfo {
  return {
    ...plainFieldsOfRow(row),
    path: parseStorePath(storeDir, row.path),
    narHash: narHashOfRow(row),
    references: references.sort(compareStorePaths),
    deriver: row.deriver ? parseStorePath(storeDir, row.deriver) : undefined,
    ca: row.ca ?? undefined,
  };
}

