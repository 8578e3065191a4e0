/**
 * `.attrs.json` and `.attrs.sh` of structured-attrs derivations, byte for
 * byte as Nix 2.8 writes them (formats.md 6.2). Nix parses `__json` with
 * nlohmann::json and dumps it again, so numbers keep their kind and
 * precision (64-bit integers exactly; doubles in nlohmann's shortest form,
 * e.g. `123457000.0`, `1e+20`); keys are sorted by bytes. `.attrs.sh` keeps
 * Nix's conversions: a number is written when it is integral as a 32-bit
 * float, and then as a C `int` (truncated to 32 bits).
 */
import { BuildError } from "./errors.ts";

/** A JSON number as written in the source. */
export class JsonNumber {
  constructor(readonly text: string) {}
  get integer(): boolean {
    return /^-?\d+$/.test(this.text);
  }
}

export type Json = string | boolean | null | JsonNumber | Json[] | Map<string, Json>;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;

/** Parses JSON text without losing number precision. */
export function parseJsonLossless(text: string): Json {
  let at = 0;
  const fail = (): never => {
    throw new BuildError(`invalid JSON in '__json' at offset ${at}`);
  };
  const space = () => {
    while (at < text.length && " \t\n\r".includes(text[at]!)) at++;
  };
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return undefined;
    at += m[0].length;
    return m[0];
  };
  const value = (): Json => {
    space();
    const c = text[at];
    if (c === "{") {
      at++;
      const object = new Map<string, Json>();
      space();
      if (text[at] === "}") return at++, object;
      for (;;) {
        space();
        const key = match(STRING) ?? fail();
        space();
        if (text[at++] !== ":") fail();
        object.set(JSON.parse(key) as string, value());
        space();
        const next = text[at++];
        if (next === "}") return object;
        if (next !== ",") fail();
      }
    }
    if (c === "[") {
      at++;
      const array: Json[] = [];
      space();
      if (text[at] === "]") return at++, array;
      for (;;) {
        array.push(value());
        space();
        const next = text[at++];
        if (next === "]") return array;
        if (next !== ",") fail();
      }
    }
    if (c === '"') return JSON.parse(match(STRING) ?? fail()) as string;
    for (const [word, result] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, at)) return (at += word.length), result;
    }
    return new JsonNumber(match(NUMBER) ?? fail());
  };
  const result = value();
  space();
  if (at !== text.length) fail();
  return result;
}

/** Plain JS data (output paths, reference graphs) as Json. */
export function toJson(value: unknown): Json {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return new JsonNumber(Number.isInteger(value) ? String(value) : formatDouble(value));
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") return new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toJson(v)]));
  throw new BuildError(`cannot represent ${typeof value} in JSON`);
}

/** nlohmann::json's double format: shortest digits, `.0` on integral values, exponent outside 1e-5..1e15. */
export function formatDouble(x: number): string {
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa, exponent] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const k = digits.length;
  const n = Number(exponent) + 1;
  if (k <= n && n <= 15) return `${sign}${digits}${"0".repeat(n - k)}.0`;
  if (n > 0 && n <= 15) return `${sign}${digits.slice(0, n)}.${digits.slice(n)}`;
  if (n > -4 && n <= 0) return `${sign}0.${"0".repeat(-n)}${digits}`;
  const e = n - 1;
  return `${sign}${k === 1 ? digits : `${digits[0]}.${digits.slice(1)}`}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function sortedEntries(object: Map<string, Json>): Array<[string, Json]> {
  return [...object].sort(([a], [b]) => byBytes(a, b));
}

/** Compact, keys sorted: nlohmann's dump(). */
export function dumpJson(value: Json): string {
  if (value instanceof JsonNumber) return value.integer ? value.text : formatDouble(Number(value.text));
  if (value instanceof Map) return `{${sortedEntries(value).map(([k, v]) => `${JSON.stringify(k)}:${dumpJson(v)}`).join(",")}}`;
  if (Array.isArray(value)) return `[${value.map(dumpJson).join(",")}]`;
  return JSON.stringify(value);
}

function shellEscape(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/** `static_cast<int>` of a double on x86-64: out of range gives INT_MIN. */
function doubleToInt(x: number): number {
  return x > -2147483649 && x < 2147483648 ? Math.trunc(x) : -2147483648;
}

function simpleShell(value: Json): string | undefined {
  if (typeof value === "string") return shellEscape(value);
  if (value === null) return "''";
  if (typeof value === "boolean") return value ? "1" : "";
  if (value instanceof JsonNumber) {
    const asFloat = Math.fround(Number(value.text));
    if (Math.ceil(asFloat) !== asFloat) return undefined;
    return String(value.integer ? Number(BigInt.asIntN(32, BigInt(value.text))) : doubleToInt(Number(value.text)) || 0);
  }
  return undefined;
}

const SH_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `declare` statements for every top-level key whose value bash can hold. */
export function attrsShell(json: Map<string, Json>): string {
  let out = "";
  for (const [key, value] of sortedEntries(json)) {
    if (!SH_VAR.test(key)) continue;
    const simple = simpleShell(value);
    if (simple !== undefined) {
      out += `declare ${key}=${simple}\n`;
    } else if (Array.isArray(value)) {
      const items = value.map(simpleShell);
      if (items.every((i) => i !== undefined)) out += `declare -a ${key}=(${items.map((i) => `${i} `).join("")})\n`;
    } else if (value instanceof Map) {
      const entries = sortedEntries(value).map(([k, v]) => [k, simpleShell(v)] as const);
      if (entries.every(([, v]) => v !== undefined)) out += `declare -A ${key}=(${entries.map(([k, v]) => `[${shellEscape(k)}]=${v} `).join("")})\n`;
    }
  }
  return out;
}
