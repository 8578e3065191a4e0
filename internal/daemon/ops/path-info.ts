/** Path info between the store's form and the wire's (worker-protocol.md 2.12). */
import { parseHash } from "../../hash/hash.ts";
import { DatabaseError } from "../../store/database.ts";
import type { LocalStore } from "../../store/local-store.ts";
import type { PathInfo, PathRecord } from "../../store/path-info.ts";
import type { WirePathInfo } from "../../wire/worker-types.ts";

export function toWirePathInfo(store: LocalStore, info: PathInfo): WirePathInfo {
  return {
    deriver: info.deriver ? store.print(info.deriver) : "",
    narHash: info.narHash.format("base16"),
    references: info.references.map((p) => store.print(p)),
    registrationTime: info.registrationTime,
    narSize: info.narSize,
    ultimate: info.ultimate,
    sigs: [...info.signatures],
    ca: info.ca ?? "",
  };
}

/** The column form Nix writes (`sha256:` and base-16), whose digest goes out as it is. */
const BASE16_SHA256 = /^sha256:[0-9a-f]{64}$/;

/**
 * The same from the stored row, without parsing paths to print them again
 * (the database holds them printed): the hot path of QueryPathInfo.
 */
export function recordToWirePathInfo(record: PathRecord): WirePathInfo {
  const { row } = record;
  return {
    deriver: row.deriver ?? "",
    narHash: BASE16_SHA256.test(row.hash) ? row.hash.slice(7) : otherHashToBase16(row.hash, row.path),
    references: record.references,
    registrationTime: Number(row.registrationTime),
    narSize: row.narSize === null ? 0 : Number(row.narSize),
    ultimate: row.ultimate !== null && Number(row.ultimate) !== 0,
    sigs: row.sigs ? row.sigs.split(" ").filter((s) => s !== "") : [],
    ca: row.ca ?? "",
  };
}

function otherHashToBase16(column: string, path: string): string {
  try {
    return parseHash(column).format("base16");
  } catch (error) {
    throw new DatabaseError(`the database records an invalid hash '${column}' for '${path}'`, { cause: error });
  }
}
