// Derivations made by real Nix 2.8 (fixtures/drvs): ATerm and JSON byte for byte,
// hash modulo, output paths and .drv paths.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Derivation,
  DerivationError,
  checkOutputPaths,
  derivationBytes,
  derivationPath,
  hashDerivationModulo,
  parseDerivation,
  parseDerivationJson,
  printDerivation,
  showDerivations,
  validateDerivation,
  withOutputPaths,
} from "../../internal/derivation/index.ts";
import { fromBytes, toUtf8 } from "../../internal/derivation/types.ts";
import index from "../fixtures/drvs/index.json";

const STORE = "/nix/store";
const DIR = join(import.meta.dir, "../fixtures/drvs");
type Entry = (typeof index.derivations)[keyof typeof index.derivations];
const entries = Object.entries(index.derivations) as Array<[string, Entry]>;
const attrByPath = new Map(entries.map(([attr, e]) => [e.drv_path, attr]));
const read = (attr: string) => readFileSync(join(DIR, `${attr}.drv`));
const context = () => ({ storeDir: STORE, cache: new Map(), load: (p: string) => parseDerivation(read(attrByPath.get(p)!)) });

describe("real .drv files", () => {
  for (const [attr, e] of entries) {
    test(attr, () => {
      const bytes = read(attr);
      const drv = parseDerivation(bytes);
      expect(Buffer.from(derivationBytes(drv)).equals(bytes)).toBe(true);
      expect(derivationPath(drv, e.drv_name, STORE).in(STORE)).toBe(e.drv_path);
      const outputs = checkOutputPaths(drv, e.drv_name, e.drv_path, context());
      expect(Object.fromEntries([...outputs].map(([n, p]) => [n, p.in(STORE)]))).toEqual(e.outputs);
      const modulo = hashDerivationModulo(drv, e.drv_name, e.kind !== "fixed-output", context());
      for (const [name, hex] of Object.entries(e.hash_modulo_base16)) expect(modulo.get(name)?.base16).toBe(hex);
      if ("hash_modulo_masked_aterm" in e) {
        // The masked text for a derivation without inputs is the masked print itself.
        if (drv.inputDrvs.size === 0) expect(toUtf8(printDerivation(drv, { maskOutputs: true }))).toBe(e.hash_modulo_masked_aterm as string);
      }
      const json = readFileSync(join(DIR, `${attr}.show-derivation.json`));
      expect(Buffer.from(showDerivations([[e.drv_path, drv]]), "latin1").equals(json)).toBe(true);
      const fromJson = parseDerivationJson(json.toString("utf8"));
      expect(fromJson.drvPath).toBe(e.drv_path);
      expect(printDerivation(fromJson.derivation)).toBe(fromBytes(bytes));
    });
  }
});

test("blanked outputs are filled in exactly as nix-instantiate wrote them", () => {
  for (const [attr, e] of entries) {
    const drv = parseDerivation(read(attr));
    const blank: Derivation = {
      ...drv,
      outputs: new Map([...drv.outputs].map(([n, o]) => [n, { ...o, path: o.hashAlgo === "" ? "" : o.path }])),
      env: new Map([...drv.env].map(([k, v]) => [k, drv.outputs.has(k) ? "" : v])),
    };
    expect(printDerivation(withOutputPaths(blank, e.drv_name, context()))).toBe(printDerivation(drv));
  }
});

describe("semantic checks", () => {
  const plain = () => parseDerivation(read("plain"));
  test("a wrong output path is reported", () => {
    const drv = plain();
    const bad: Derivation = { ...drv, env: new Map([...drv.env, ["out", "/nix/store/00000000000000000000000000000000-plain"]]) };
    expect(() => checkOutputPaths(bad, "plain", "x", context())).toThrow("has incorrect environment variable 'out'");
  });
  test("no outputs, mixed kinds, reserved names", () => {
    const drv = plain();
    expect(() => validateDerivation({ ...drv, outputs: new Map() }, STORE)).toThrow("no outputs");
    const fixed = parseDerivation(read("fo-flat")).outputs.get("out")!;
    expect(() => validateDerivation({ ...drv, outputs: new Map([["dev", fixed], ...drv.outputs]) }, STORE)).toThrow(DerivationError);
    expect(() => validateDerivation({ ...drv, outputs: new Map([["drv", drv.outputs.get("out")!]]) }, STORE)).toThrow("reserved");
  });
  test("parse errors name the byte offset", () => {
    expect(() => parseDerivation('Derive([("out","","","")] ')).toThrow(/at byte 25: expected ','/);
    expect(() => parseDerivation("Derive(")).toThrow(/at byte 7/);
    const text = fromBytes(read("plain"));
    expect(() => parseDerivation(`${text}x`)).toThrow("after the end of the derivation");
    expect(() => parseDerivation(text.replace('("builder","/bin/sh"),("name","plain")', '("name","plain"),("builder","/bin/sh")'))).toThrow("is not sorted after");
  });
  test("escapes decode and re-encode", () => {
    const drv = parseDerivation(read("escapes"));
    expect(drv.env.get("weird")).toContain('quote" backslash\\ newline\n tab\t cr\r');
  });
});
