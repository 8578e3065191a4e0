/** nix-store --add, --add-fixed, --print-fixed-path, --init. */
import { UsageError } from "../../../internal/errors.ts";
import { parseHash } from "../../../internal/hash/hash.ts";
import { addPath } from "../../../internal/store/add.ts";
import { makeFixedOutputPath } from "../../../internal/store-path/make.ts";
import { out } from "../../cli.ts";
import { algorithmFlag } from "../../hashing.ts";
import { commandSettings, openStore, storeLocation } from "../../store-options.ts";
import { type NixStoreInvocation, checkFlags, storeFlagsOf } from "./operations.ts";

async function addAll(invocation: NixStoreInvocation, paths: readonly string[], options: Parameters<typeof addPath>[2]): Promise<void> {
  const store = openStore(storeFlagsOf(invocation), "write");
  try {
    for (const path of paths) out(`${store.print((await addPath(store, path, options)).path)}\n`);
  } finally {
    store.close();
  }
}

export async function add(invocation: NixStoreInvocation): Promise<void> {
  checkFlags(invocation, []);
  await addAll(invocation, invocation.operands, { method: "recursive", algorithm: "sha256" });
}

export async function addFixed(invocation: NixStoreInvocation): Promise<void> {
  checkFlags(invocation, ["--recursive"]);
  const [algorithm, ...paths] = invocation.operands;
  if (algorithm === undefined) throw new UsageError("first argument must be hash algorithm");
  const method = invocation.flags.includes("--recursive") ? "recursive" : "flat";
  await addAll(invocation, paths, { method, algorithm: algorithmFlag(algorithm, "sha256") });
}

export function printFixedPath(invocation: NixStoreInvocation): void {
  checkFlags(invocation, ["--recursive"]);
  if (invocation.operands.length !== 3) throw new UsageError("'--print-fixed-path' requires three arguments");
  const [algorithm, hash, name] = invocation.operands as [string, string, string];
  const { storeDir } = storeLocation(storeFlagsOf(invocation), commandSettings());
  const method = invocation.flags.includes("--recursive") ? "recursive" : "flat";
  out(`${makeFixedOutputPath(method, parseHash(hash, algorithmFlag(algorithm, "sha256")), name, storeDir).in(storeDir)}\n`);
}

export function init(invocation: NixStoreInvocation): void {
  checkFlags(invocation, []);
  openStore(storeFlagsOf(invocation), "write").close();
}
