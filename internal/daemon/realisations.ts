/**
 * builtOutputs of a BuildResult (worker-protocol.md 2.10, 2.11): for each
 * wanted output, the DrvOutput id "sha256:<hash modulo, base-16>!<output>"
 * and a Realisation JSON naming its path. 2.8 fills them in for ordinary
 * input-addressed derivations too, from the masked hash modulo.
 */
import { readStoreDerivation, outputPaths } from "../build/inputs.ts";
import type { Hash } from "../hash/hash.ts";
import { hashDerivationModulo } from "../derivation/hash-modulo.ts";
import type { ByteString, Derivation } from "../derivation/types.ts";
import type { StorePath } from "../store-path/store-path.ts";
import type { LocalStore } from "../store/local-store.ts";
import { jsonQuote } from "../text/json.ts";

/** Unmasked hashes of input derivations, shared while one request is served. */
export type HashCache = Map<ByteString, ReadonlyMap<ByteString, Hash>>;

export function builtOutputs(
  store: LocalStore,
  drvPath: StorePath,
  drv: Derivation,
  wanted: readonly string[] | undefined,
  cache: HashCache = new Map(),
): Map<string, string> {
  const hashes = hashDerivationModulo(drv, drvPath.derivationName, true, {
    storeDir: store.storeDir,
    load: (path) => readStoreDerivation(store, store.parse(path)),
    cache,
  });
  const paths = outputPaths(store, drv, drvPath);
  const result = new Map<string, string>();
  for (const [name, path] of paths) {
    if (wanted !== undefined && !wanted.includes(name)) continue;
    const id = `sha256:${hashes.get(name)!.base16}!${name}`;
    result.set(id, `{"dependentRealisations":{},"id":${jsonQuote(id)},"outPath":${jsonQuote(path.baseName)},"signatures":[]}`);
  }
  return result;
}
