/**
 * A derivation as written in a `.drv` file (formats.md 4.1-4.2).
 *
 * Every string here is a byte string: one character per byte (latin1), so
 * that any byte sequence round-trips exactly and `<` on strings is the
 * bytewise order Nix sorts by. Convert with `toBytes`/`fromBytes` (or
 * `fromUtf8` for text that came from JSON) at the edges.
 *
 * Output fields are kept as written: `path` ("" when not yet known), `hashAlgo`
 * ("[r:]algo" or ""), `hash` (hex, "impure" or ""). `output-kind.ts` gives
 * them meaning; `validate.ts` checks them.
 */
import { BunixError } from "../errors.ts";

export type ByteString = string;

export interface DerivationOutput {
  readonly path: ByteString;
  readonly hashAlgo: ByteString;
  readonly hash: ByteString;
}

export interface Derivation {
  /** Output name -> output, in bytewise order of names. */
  readonly outputs: ReadonlyMap<ByteString, DerivationOutput>;
  /** Input derivation path -> wanted output names (sorted), in bytewise order of paths. */
  readonly inputDrvs: ReadonlyMap<ByteString, readonly ByteString[]>;
  /** Input source paths, sorted. */
  readonly inputSrcs: readonly ByteString[];
  readonly platform: ByteString;
  readonly builder: ByteString;
  readonly args: readonly ByteString[];
  /** Environment, in bytewise order of keys. */
  readonly env: ReadonlyMap<ByteString, ByteString>;
}

export class DerivationError extends BunixError {
  override name = "DerivationError";
}

export function toBytes(text: ByteString): Uint8Array {
  return Buffer.from(text, "latin1");
}

export function fromBytes(bytes: Uint8Array): ByteString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
}

/** A byte string from ordinary (UTF-16) text, encoding it as UTF-8. */
export function fromUtf8(text: string): ByteString {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** Ordinary text from a byte string holding UTF-8 (invalid sequences become U+FFFD). */
export function toUtf8(text: ByteString): string {
  return Buffer.from(text, "latin1").toString("utf8");
}

/** Sorts byte strings bytewise (plain code unit order, since every unit is < 256). */
export function sortBytewise<T extends string>(items: Iterable<T>): T[] {
  return [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Builds a derivation, sorting and de-duplicating its sets and maps. */
export function makeDerivation(parts: {
  outputs: Iterable<[ByteString, DerivationOutput]>;
  inputDrvs?: Iterable<[ByteString, Iterable<ByteString>]>;
  inputSrcs?: Iterable<ByteString>;
  platform: ByteString;
  builder: ByteString;
  args?: Iterable<ByteString>;
  env?: Iterable<[ByteString, ByteString]>;
}): Derivation {
  const outputs = new Map(parts.outputs);
  const inputDrvs = new Map<ByteString, ByteString[]>();
  for (const [path, names] of parts.inputDrvs ?? []) {
    inputDrvs.set(path, sortBytewise(new Set([...(inputDrvs.get(path) ?? []), ...names])));
  }
  const env = new Map(parts.env ?? []);
  return {
    outputs: sortedMap(outputs),
    inputDrvs: sortedMap(inputDrvs),
    inputSrcs: sortBytewise(new Set(parts.inputSrcs ?? [])),
    platform: parts.platform,
    builder: parts.builder,
    args: [...(parts.args ?? [])],
    env: sortedMap(env),
  };
}

function sortedMap<V>(map: ReadonlyMap<ByteString, V>): Map<ByteString, V> {
  return new Map(sortBytewise(map.keys()).map((key) => [key, map.get(key)!]));
}
