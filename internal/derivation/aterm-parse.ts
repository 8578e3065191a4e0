/**
 * Parser for the `.drv` ATerm text (formats.md 4.1). Syntax only: it checks
 * the exact shape Nix writes (no whitespace, one comma between elements,
 * nothing after the final ')'), decodes the escapes of the escaped fields
 * (builder, args, env), and requires sets and maps to be sorted without
 * duplicates, since a file that is not in that form would not re-serialise to
 * the same bytes. For the same reason a raw field (output names, paths, hash
 * algorithms and hashes, input paths, platform) may not contain a backslash:
 * Nix writes those fields unescaped, so a decoded `\"` or `\\` would print
 * back as text that does not parse, or parses to another value. Meaning is
 * given by output-kind.ts and checked by validate.ts.
 */
import { type ByteString, type Derivation, DerivationError, type DerivationOutput, fromBytes } from "./types.ts";

export class DerivationParseError extends DerivationError {
  override name = "DerivationParseError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`malformed derivation at byte ${offset}: ${message}`);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

class Cursor {
  at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  fail(message: string, at = this.at): never {
    throw new DerivationParseError(message, at);
  }

  describeHere(): string {
    if (this.at >= this.bytes.length) return "end of input";
    const c = this.bytes[this.at]!;
    return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, "0")}`;
  }

  expect(literal: string): void {
    for (let i = 0; i < literal.length; i++) {
      if (this.bytes[this.at + i] !== literal.charCodeAt(i)) {
        this.at += i;
        this.fail(`expected '${literal[i]}'${i > 0 ? ` (in '${literal}')` : ""}, found ${this.describeHere()}`);
      }
    }
    this.at += literal.length;
  }

  peek(literal: string): boolean {
    for (let i = 0; i < literal.length; i++) if (this.bytes[this.at + i] !== literal.charCodeAt(i)) return false;
    return true;
  }

  string(): ByteString {
    if (this.bytes[this.at] !== QUOTE) this.fail(`expected a string, found ${this.describeHere()}`);
    const start = ++this.at;
    // Fast path: no escapes.
    let end = start;
    while (end < this.bytes.length && this.bytes[end] !== QUOTE && this.bytes[end] !== BACKSLASH) end++;
    if (this.bytes[end] === QUOTE) {
      this.at = end + 1;
      return fromBytes(this.bytes.subarray(start, end));
    }
    const out: number[] = [];
    for (let i = start; i < end; i++) out.push(this.bytes[i]!);
    this.at = end;
    for (;;) {
      if (this.at >= this.bytes.length) this.fail("unterminated string", start - 1);
      const c = this.bytes[this.at++]!;
      if (c === QUOTE) break;
      if (c !== BACKSLASH) {
        out.push(c);
        continue;
      }
      if (this.at >= this.bytes.length) this.fail("unterminated string", start - 1);
      const e = this.bytes[this.at++]!;
      out.push(e === 0x6e ? 0x0a : e === 0x72 ? 0x0d : e === 0x74 ? 0x09 : e);
    }
    return fromBytes(Uint8Array.from(out));
  }

  /**
   * A field Nix writes without escaping: the bytes up to the next '"'. A
   * backslash is refused, since the value could not be written back.
   */
  rawString(what: string): ByteString {
    if (this.bytes[this.at] !== QUOTE) this.fail(`expected a string, found ${this.describeHere()}`);
    const start = ++this.at;
    let end = start;
    while (end < this.bytes.length && this.bytes[end] !== QUOTE && this.bytes[end] !== BACKSLASH) end++;
    if (end >= this.bytes.length) this.fail("unterminated string", start - 1);
    if (this.bytes[end] === BACKSLASH) this.fail(`backslash in the ${what}, a field that is written without escapes`, end);
    this.at = end + 1;
    return fromBytes(this.bytes.subarray(start, end));
  }

  /** `[` item (`,` item)* `]` */
  list<T>(item: () => T): T[] {
    this.expect("[");
    const items: T[] = [];
    if (this.peek("]")) {
      this.at++;
      return items;
    }
    for (;;) {
      items.push(item());
      if (this.peek(",")) {
        this.at++;
        continue;
      }
      if (this.peek("]")) {
        this.at++;
        return items;
      }
      this.fail(`expected ',' or ']', found ${this.describeHere()}`);
    }
  }

  get atEnd(): boolean {
    return this.at >= this.bytes.length;
  }
}

/** Checks that keys come in strictly increasing bytewise order. */
function sortedMap<V>(cursor: Cursor, what: string, entries: Array<[ByteString, V, number]>): Map<ByteString, V> {
  const map = new Map<ByteString, V>();
  let previous: ByteString | undefined;
  for (const [key, value, at] of entries) {
    if (previous !== undefined && key === previous) cursor.fail(`duplicate ${what} '${key}'`, at);
    if (previous !== undefined && key < previous) cursor.fail(`${what} '${key}' is not sorted after '${previous}'`, at);
    map.set(key, value);
    previous = key;
  }
  return map;
}

function sortedSet(cursor: Cursor, what: string, items: Array<[ByteString, number]>): ByteString[] {
  return [...sortedMap(cursor, what, items.map(([s, at]) => [s, null, at] as [ByteString, null, number])).keys()];
}

export function parseDerivation(input: Uint8Array | string): Derivation {
  const bytes = typeof input === "string" ? Buffer.from(input, "latin1") : input;
  const c = new Cursor(bytes);
  c.expect("Derive(");
  const outputs = c.list((): [ByteString, DerivationOutput, number] => {
    const at = c.at;
    c.expect("(");
    const name = c.rawString("output name");
    c.expect(",");
    const path = c.rawString("output path");
    c.expect(",");
    const hashAlgo = c.rawString("output hash algorithm");
    c.expect(",");
    const hash = c.rawString("output hash");
    c.expect(")");
    return [name, { path, hashAlgo, hash }, at];
  });
  c.expect(",");
  const inputDrvs = c.list((): [ByteString, ByteString[], number] => {
    const at = c.at;
    c.expect("(");
    const path = c.rawString("input derivation path");
    c.expect(",");
    const names = c.list((): [ByteString, number] => {
      const at = c.at;
      return [c.rawString("output name of an input derivation"), at];
    });
    c.expect(")");
    return [path, sortedSet(c, `output name of input '${path}'`, names), at];
  });
  c.expect(",");
  const inputSrcs = c.list((): [ByteString, number] => {
    const at = c.at;
    return [c.rawString("input source"), at];
  });
  c.expect(",");
  const platform = c.rawString("platform");
  c.expect(",");
  const builder = c.string();
  c.expect(",");
  const args = c.list(() => c.string());
  c.expect(",");
  const env = c.list((): [ByteString, ByteString, number] => {
    const at = c.at;
    c.expect("(");
    const key = c.string();
    c.expect(",");
    const value = c.string();
    c.expect(")");
    return [key, value, at];
  });
  c.expect(")");
  if (!c.atEnd) c.fail(`unexpected ${c.describeHere()} after the end of the derivation`);
  return {
    outputs: sortedMap(c, "output", outputs),
    inputDrvs: sortedMap(c, "input derivation", inputDrvs),
    inputSrcs: sortedSet(c, "input source", inputSrcs),
    platform,
    builder,
    args,
    env: sortedMap(c, "environment variable", env),
  };
}
