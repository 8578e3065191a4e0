/** Path info between the store's form and the wire's (worker-protocol.md 2.12). */
import type { LocalStore } from "../../store/local-store.ts";
import type { PathInfo } from "../../store/path-info.ts";
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
