/**
 * Printer for the `.drv` ATerm text (formats.md 4.1). Builder, args and env
 * strings are escaped (`"` `\` LF CR TAB); every other field is written raw, as
 * Nix writes it. Options produce the texts hashed by hashDerivationModulo:
 * masked outputs, and input derivations replaced by their hashes.
 */
import type { ByteString, Derivation } from "./types.ts";

export interface PrintOptions {
  /** Write "" for every output path and every env entry named like an output. */
  maskOutputs?: boolean;
  /** Replaces the inputDrvs list (already sorted; keys written raw). */
  inputDrvs?: ReadonlyMap<ByteString, readonly ByteString[]>;
}

function escaped(text: ByteString): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let replacement: string | undefined;
    if (c === 0x22) replacement = '\\"';
    else if (c === 0x5c) replacement = "\\\\";
    else if (c === 0x0a) replacement = "\\n";
    else if (c === 0x0d) replacement = "\\r";
    else if (c === 0x09) replacement = "\\t";
    if (replacement !== undefined) {
      out += text.slice(start, i) + replacement;
      start = i + 1;
    }
  }
  return `${out + text.slice(start)}"`;
}

function raw(text: ByteString): string {
  return `"${text}"`;
}

function list(items: Iterable<string>): string {
  return `[${[...items].join(",")}]`;
}

/** The ATerm text as a byte string (latin1); see `derivationBytes` for bytes. */
export function printDerivation(drv: Derivation, options: PrintOptions = {}): ByteString {
  const mask = options.maskOutputs ?? false;
  const outputs = [...drv.outputs].map(
    ([name, o]) => `(${raw(name)},${raw(mask ? "" : o.path)},${raw(o.hashAlgo)},${raw(o.hash)})`,
  );
  const inputDrvs = [...(options.inputDrvs ?? drv.inputDrvs)].map(([path, names]) => `(${raw(path)},${list(names.map(raw))})`);
  const env = [...drv.env].map(([key, value]) => `(${escaped(key)},${escaped(mask && drv.outputs.has(key) ? "" : value)})`);
  return (
    `Derive(${list(outputs)},${list(inputDrvs)},${list(drv.inputSrcs.map(raw))},` +
    `${raw(drv.platform)},${escaped(drv.builder)},${list(drv.args.map(escaped))},${list(env)})`
  );
}

export function derivationBytes(drv: Derivation, options?: PrintOptions): Uint8Array {
  return Buffer.from(printDerivation(drv, options), "latin1");
}
