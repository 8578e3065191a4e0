/**
 * A derivation given as a file (ATerm `.drv` or show-derivation JSON) is
 * written to the store first, as `nix derivation add` would: output paths
 * filled in, the canonical ATerm as a text object whose references are its
 * inputs (which must be valid).
 */
import { derivationBytes } from "../derivation/aterm-write.ts";
import { withOutputPaths } from "../derivation/output-paths.ts";
import type { StorePath } from "../store-path/store-path.ts";
import { addText } from "../store/add.ts";
import { type LoadedDerivation, storeDerivationContext } from "../store/derivation-files.ts";
import type { LocalStore } from "../store/local-store.ts";

export async function addDerivation(store: LocalStore, loaded: LoadedDerivation): Promise<StorePath> {
  const complete = withOutputPaths(loaded.derivation, loaded.name, storeDerivationContext(store.location));
  const references = [...complete.inputSrcs, ...complete.inputDrvs.keys()].map((p) => store.parse(p));
  const result = await addText(store, `${loaded.name}.drv`, [derivationBytes(complete)], { references });
  return result.path;
}
