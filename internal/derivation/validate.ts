/**
 * Semantic checks on a parsed derivation (formats.md 4.2-4.3): at least one
 * output, one kind of output, a fixed output is the single output `out`,
 * output and derivation names are usable, and every path is a store path in
 * the store dir. Output paths are checked against the computed ones in
 * output-paths.ts, which needs the input derivations.
 */
import { DRV_EXTENSION, invalidNameReason, parseStorePath } from "../store-path/store-path.ts";
import { type OutputKind, classifyOutput } from "./output-kind.ts";
import { type ByteString, type Derivation, DerivationError } from "./types.ts";

export function checkDerivationName(name: ByteString): void {
  if (name.endsWith(DRV_EXTENSION)) throw new DerivationError(`derivation name '${name}' must not end in '${DRV_EXTENSION}'`);
  const reason = invalidNameReason(name);
  if (reason) throw new DerivationError(`derivation name '${name}' is invalid: ${reason}`);
}

/** Classifies every output, checking the whole derivation; returns the kinds. */
export function validateDerivation(drv: Derivation, storeDir: string): Map<ByteString, OutputKind> {
  if (drv.outputs.size === 0) throw new DerivationError("derivation has no outputs");
  const kinds = new Map<ByteString, OutputKind>();
  for (const [name, output] of drv.outputs) {
    if (name === "drv") throw new DerivationError("output name 'drv' is reserved");
    const reason = invalidNameReason(name);
    if (reason) throw new DerivationError(`output name '${name}' is invalid: ${reason}`);
    kinds.set(name, classifyOutput(name, output, storeDir));
  }
  const first = [...kinds.values()][0]!.kind;
  if ([...kinds.values()].some((k) => k.kind !== first)) throw new DerivationError("can't mix derivation output types");
  if (first === "fixed" && (kinds.size !== 1 || !kinds.has("out"))) {
    throw new DerivationError("a fixed-output derivation must have exactly one output, named 'out'");
  }
  for (const path of drv.inputDrvs.keys()) {
    const parsed = parseWith(storeDir, path, "input derivation");
    if (!parsed.isDerivation()) throw new DerivationError(`input derivation '${path}' is not a .drv path`);
  }
  for (const path of drv.inputSrcs) parseWith(storeDir, path, "input source");
  return kinds;
}

function parseWith(storeDir: string, path: string, what: string) {
  try {
    return parseStorePath(storeDir, path);
  } catch (error) {
    throw new DerivationError(`${what} '${path}': ${(error as Error).message}`, { cause: error });
  }
}
