/**
 * JSON output as Nix 2.8's own JSON writer produces it, over byte strings
 * (one char per byte, see derivation/types.ts): `"` `\` LF CR TAB escaped by
 * name, other bytes below 0x20 as \u00xx, every other byte verbatim (UTF-8
 * or not). Objects keep the key order they are built with.
 */

export type JsonNode = string | number | boolean | null | readonly JsonNode[] | JsonObject;

export interface JsonObject {
  readonly entries: ReadonlyArray<readonly [string, JsonNode]>;
}

export function jsonObject(entries: ReadonlyArray<readonly [string, JsonNode]>): JsonObject {
  return { entries };
}

export function jsonQuote(text: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += text.slice(start, i);
    start = i + 1;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else out += `\\u${c.toString(16).padStart(4, "0")}`;
  }
  return `${out + text.slice(start)}"`;
}

function isObject(node: JsonNode): node is JsonObject {
  return typeof node === "object" && node !== null && !Array.isArray(node);
}

/** Compact form: no whitespace. */
export function printJsonCompact(node: JsonNode): string {
  if (typeof node === "string") return jsonQuote(node);
  if (typeof node !== "object" || node === null) return String(node);
  if (isObject(node)) return `{${node.entries.map(([k, v]) => `${jsonQuote(k)}:${printJsonCompact(v)}`).join(",")}}`;
  return `[${(node as readonly JsonNode[]).map(printJsonCompact).join(",")}]`;
}

/** Pretty form with two-space indentation, as `nix show-derivation` prints. */
export function printJsonPretty(node: JsonNode, indent = ""): string {
  if (typeof node === "string") return jsonQuote(node);
  if (typeof node !== "object" || node === null) return String(node);
  const inner = `${indent}  `;
  if (isObject(node)) {
    if (node.entries.length === 0) return "{}";
    return `{\n${node.entries.map(([k, v]) => `${inner}${jsonQuote(k)}: ${printJsonPretty(v, inner)}`).join(",\n")}\n${indent}}`;
  }
  const items = node as readonly JsonNode[];
  if (items.length === 0) return "[]";
  return `[\n${items.map((item) => inner + printJsonPretty(item, inner)).join(",\n")}\n${indent}]`;
}
