/**
 * Output paths and the `.drv` path of a derivation (formats.md 2.3, 2.5, 2.7,
 * 4.3): fixed outputs from their hash, input-addressed ones from the masked
 * hash modulo; the `.drv` itself is a text path whose references are its
 * input sources and input derivations.
 */
import type { Hash } from "../hash/hash.ts";
import { hashBytes } from "../hash/hasher.ts";
import { makeFixedOutputPath, makeOutputPath, makeTextPath } from "../store-path/make.ts";
import { type StorePath, parseStorePath } from "../store-path/store-path.ts";
import { derivationBytes } from "./aterm-write.ts";
import { type HashModuloContext, hashDerivationModulo } from "./hash-modulo.ts";
import { type ByteString, type Derivation, DerivationError, sortBytewise } from "./types.ts";
import { validateDerivation } from "./validate.ts";

/** The path each output should have. */
export function computeOutputPaths(drv: Derivation, drvName: string, context: HashModuloContext): Map<ByteString, StorePath> {
  const kinds = validateDerivation(drv, context.storeDir);
  const paths = new Map<ByteString, StorePath>();
  let modulo: ReadonlyMap<ByteString, Hash> | undefined;
  for (const [name, kind] of kinds) {
    if (kind.kind === "fixed") {
      paths.set(name, makeFixedOutputPath(kind.method, kind.hash, drvName, context.storeDir));
    } else if (kind.kind === "input-addressed" || kind.kind === "deferred") {
      // Deferred outputs only wait on content-addressed inputs, which hashDerivationModulo refuses.
      modulo ??= hashDerivationModulo(drv, drvName, true, context);
      paths.set(name, makeOutputPath(name, modulo.get(name)!, drvName, context.storeDir));
    } else {
      throw new DerivationError(`output '${name}' is ${kind.kind} (experimental); its path is only known after building`);
    }
  }
  return paths;
}

/**
 * Checks that every output path and its env entry match the computed paths,
 * as Nix does when a `.drv` is registered ("has incorrect output").
 */
export function checkOutputPaths(drv: Derivation, drvName: string, drvPath: string, context: HashModuloContext): Map<ByteString, StorePath> {
  const paths = computeOutputPaths(drv, drvName, context);
  for (const [name, path] of paths) {
    const full = path.in(context.storeDir);
    const output = drv.outputs.get(name)!;
    if (output.hashAlgo === "" && output.path !== full) {
      throw new DerivationError(`derivation '${drvPath}' has incorrect output '${output.path}', should be '${full}'`);
    }
    const env = drv.env.get(name);
    if (env !== full) {
      throw new DerivationError(`derivation '${drvPath}' has incorrect environment variable '${name}', should be '${full}'`);
    }
  }
  return paths;
}

/** The store path of the `.drv` file holding `drv`. */
export function derivationPath(drv: Derivation, drvName: string, storeDir: string): StorePath {
  const references = [...drv.inputSrcs, ...drv.inputDrvs.keys()].map((p) => parseStorePath(storeDir, p));
  return makeTextPath(`${drvName}.drv`, hashBytes("sha256", derivationBytes(drv)), references, storeDir);
}

/**
 * The derivation with its output paths filled in (path fields and the env
 * entries named like outputs), as `derivation` writes it (formats.md 4.6).
 */
export function withOutputPaths(drv: Derivation, drvName: string, context: HashModuloContext): Derivation {
  const paths = computeOutputPaths(drv, drvName, context);
  const full = (name: ByteString) => paths.get(name)!.in(context.storeDir);
  return {
    ...drv,
    outputs: new Map([...drv.outputs].map(([name, o]) => [name, { ...o, path: full(name) }])),
    env: new Map(sortBytewise(new Set([...drv.env.keys(), ...paths.keys()])).map((key) => [key, paths.has(key) ? full(key) : drv.env.get(key)!])),
  };
}
