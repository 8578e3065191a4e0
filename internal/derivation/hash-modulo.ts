/**
 * hashDerivationModulo (formats.md 4.5): the hash that input-addressed output
 * paths are computed from. A fixed-output derivation hashes to a descriptor
 * of its output alone (so changing its builder changes no dependent's output
 * path); any other derivation hashes to its ATerm with each input derivation
 * replaced by the hex of that input's own (unmasked) hash modulo, and, when
 * `mask` is set, its output paths blanked.
 */
import type { Hash } from "../hash/hash.ts";
import { hashBytes, sha256Of } from "../hash/hasher.ts";
import { makeFixedOutputPath } from "../store-path/make.ts";
import { parseStorePath } from "../store-path/store-path.ts";
import { derivationBytes } from "./aterm-write.ts";
import { type OutputKind, classifyOutput, formatMethodAlgorithm } from "./output-kind.ts";
import { type ByteString, type Derivation, DerivationError, sortBytewise } from "./types.ts";

/** Reads an input derivation given its full store path. */
export type DerivationLoader = (drvPath: ByteString) => Derivation;

export interface HashModuloContext {
  readonly storeDir: string;
  readonly load: DerivationLoader;
  /** Unmasked hashes of input derivations, by drv path. */
  readonly cache?: Map<ByteString, ReadonlyMap<ByteString, Hash>>;
}

function fixedOutputOf(drv: Derivation, storeDir: string): (OutputKind & { kind: "fixed" }) | undefined {
  const out = drv.outputs.get("out");
  if (drv.outputs.size !== 1 || out === undefined || out.hashAlgo === "" || out.hash === "" || out.hash === "impure") return undefined;
  return classifyOutput("out", out, storeDir) as OutputKind & { kind: "fixed" };
}

/** Hash modulo of `drv` (named `drvName`) per output name. */
export function hashDerivationModulo(
  drv: Derivation,
  drvName: string,
  mask: boolean,
  context: HashModuloContext,
): ReadonlyMap<ByteString, Hash> {
  const fixed = fixedOutputOf(drv, context.storeDir);
  if (fixed) {
    const path = makeFixedOutputPath(fixed.method, fixed.hash, drvName, context.storeDir);
    const descriptor = `fixed:out:${formatMethodAlgorithm(fixed.method, fixed.hash.algorithm)}:${fixed.hash.base16}:${path.in(context.storeDir)}`;
    return new Map([["out", sha256Of(descriptor)]]);
  }
  for (const [name, output] of drv.outputs) {
    if (output.hashAlgo !== "") {
      throw new DerivationError(`output '${name}' is content-addressed (experimental ca-derivations); bunix cannot hash such derivations yet`);
    }
  }

  // Inputs with equal hashes (two fixed-output derivations with one output path) merge.
  const byHash = new Map<string, Set<ByteString>>();
  for (const [inputPath, wanted] of drv.inputDrvs) {
    const hashes = inputHashes(inputPath, context);
    for (const output of wanted) {
      const hash = hashes.get(output);
      if (hash === undefined) throw new DerivationError(`input derivation '${inputPath}' has no output '${output}'`);
      const key = hash.base16;
      const names = byHash.get(key) ?? new Set();
      names.add(output);
      byHash.set(key, names);
    }
  }
  const inputDrvs = new Map(sortBytewise(byHash.keys()).map((key) => [key, sortBytewise(byHash.get(key)!)]));
  const hash = hashBytes("sha256", derivationBytes(drv, { maskOutputs: mask, inputDrvs }));
  return new Map([...drv.outputs.keys()].map((name) => [name, hash]));
}

function inputHashes(drvPath: ByteString, context: HashModuloContext): ReadonlyMap<ByteString, Hash> {
  const cached = context.cache?.get(drvPath);
  if (cached) return cached;
  const input = context.load(drvPath);
  const name = parseStorePath(context.storeDir, drvPath).derivationName;
  const hashes = hashDerivationModulo(input, name, false, context);
  context.cache?.set(drvPath, hashes);
  return hashes;
}
