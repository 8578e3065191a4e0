/**
 * The JSON form printed by `nix show-derivation` (formats.md 4.4), byte for
 * byte: keys in the order outputs, inputSrcs, inputDrvs, system, builder,
 * args, env; two-space indentation; `"` `\` LF CR TAB escaped by name, other
 * control bytes as \u00xx, everything else (UTF-8 or not) verbatim.
 */
import { type JsonNode, type JsonObject, jsonObject, printJsonPretty } from "../text/json.ts";
import { type ByteString, type Derivation, DerivationError, type DerivationOutput, fromUtf8, makeDerivation } from "./types.ts";


function outputNode(output: DerivationOutput): JsonNode {
  const entries: Array<[ByteString, JsonNode]> = [];
  if (output.path !== "") entries.push(["path", output.path]);
  if (output.hashAlgo !== "") entries.push(["hashAlgo", output.hashAlgo]);
  if (output.hash === "impure") entries.push(["impure", true]);
  else if (output.hash !== "") entries.push(["hash", output.hash]);
  return jsonObject(entries);
}

/** The body object for one derivation. */
function derivationNode(drv: Derivation): JsonObject {
  return jsonObject([
    ["outputs", jsonObject([...drv.outputs].map(([name, o]) => [name, outputNode(o)] as const))],
    ["inputSrcs", [...drv.inputSrcs]],
    ["inputDrvs", jsonObject([...drv.inputDrvs].map(([path, names]) => [path, [...names]] as const))],
    ["system", drv.platform],
    ["builder", drv.builder],
    ["args", [...drv.args]],
    ["env", jsonObject([...drv.env])],
  ]);
}

/**
 * `nix show-derivation` output for the given derivations (keyed by drv path,
 * in the order given), as a byte string ending in a newline.
 */
export function showDerivations(derivations: ReadonlyArray<readonly [ByteString, Derivation]>): ByteString {
  return `${printJsonPretty(jsonObject(derivations.map(([path, drv]) => [path, derivationNode(drv)] as const)))}\n`;
}

// ---- Reading the JSON form back ------------------------------------------------

function fail(where: string, message: string): never {
  throw new DerivationError(`derivation JSON: ${where}: ${message}`);
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(where, "expected an object");
  return value as Record<string, unknown>;
}

function text(value: unknown, where: string): ByteString {
  if (typeof value !== "string") fail(where, "expected a string");
  return fromUtf8(value);
}

function texts(value: unknown, where: string): ByteString[] {
  if (!Array.isArray(value)) fail(where, "expected an array of strings");
  return value.map((item, i) => text(item, `${where}[${i}]`));
}

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) fail(where, `unknown field '${key}'`);
}

const BODY_KEYS = ["outputs", "inputSrcs", "inputDrvs", "system", "builder", "args", "env"] as const;

/**
 * Parses a show-derivation document: either `{ "<drvPath>": {...} }` with one
 * entry, or the body object itself. Returns the drv path key when present.
 */
export function parseDerivationJson(json: string): { drvPath?: ByteString; derivation: Derivation } {
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch (error) {
    throw new DerivationError(`derivation JSON is not valid JSON: ${(error as Error).message}`);
  }
  const top = record(document, "top level");
  let drvPath: ByteString | undefined;
  let body = top;
  if (!("outputs" in top)) {
    const keys = Object.keys(top);
    if (keys.length !== 1) fail("top level", `expected one derivation, found ${keys.length}`);
    drvPath = fromUtf8(keys[0]!);
    body = record(top[keys[0]!], drvPath);
  }
  checkKeys(body, BODY_KEYS, "derivation");
  for (const key of BODY_KEYS) if (!(key in body)) fail("derivation", `missing field '${key}'`);

  const outputs = Object.entries(record(body.outputs, "outputs")).map(([name, value]): [ByteString, DerivationOutput] => {
    const where = `outputs.${name}`;
    const o = record(value, where);
    checkKeys(o, ["path", "hashAlgo", "hash", "impure"], where);
    const impure = o.impure === true;
    if (o.impure !== undefined && typeof o.impure !== "boolean") fail(`${where}.impure`, "expected a boolean");
    return [
      fromUtf8(name),
      {
        path: o.path === undefined ? "" : text(o.path, `${where}.path`),
        hashAlgo: o.hashAlgo === undefined ? "" : text(o.hashAlgo, `${where}.hashAlgo`),
        hash: impure ? "impure" : o.hash === undefined ? "" : text(o.hash, `${where}.hash`),
      },
    ];
  });
  const inputDrvs = Object.entries(record(body.inputDrvs, "inputDrvs")).map(
    ([path, names]): [ByteString, ByteString[]] => [fromUtf8(path), texts(names, `inputDrvs.${path}`)],
  );
  const env = Object.entries(record(body.env, "env")).map(([k, v]): [ByteString, ByteString] => [fromUtf8(k), text(v, `env.${k}`)]);
  const derivation = makeDerivation({
    outputs,
    inputDrvs,
    inputSrcs: texts(body.inputSrcs, "inputSrcs"),
    platform: text(body.system, "system"),
    builder: text(body.builder, "builder"),
    args: texts(body.args, "args"),
    env,
  });
  return drvPath === undefined ? { derivation } : { drvPath, derivation };
}
