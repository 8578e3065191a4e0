/** Path info between the store's form and the wire's (worker-protocol.md 2.12). */
import type { LocalStore } from "../../store/local-store.ts";
import { type PathInfo, type PathRecord, narHashOfRow, plainFieldsOfRow } from "../../store/path-info.ts";
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
  const { narSize, registrationTime, ultimate, signatures } = plainFieldsOfRow(row);
  return {
    deriver: row.deriver ?? "",
    narHash: BASE16_SHA256.test(row.hash) ? row.hash.slice(7) : narHashOfRow(row).format("base16"),
    references: record.references,
    registrationTime,
    narSize,
    ultimate,
    sigs: [...signatures],
    ca: row.ca ?? "",
  };
}
