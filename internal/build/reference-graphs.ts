/**
 * `exportReferencesGraph` (formats.md 6.2): files describing the closure of
 * input paths. Legacy mode: `name1 path1 name2 path2 ...`, each file in the
 * `--register-validity` format (no hash lines, empty deriver lines), with
 * the closures of a derivation's outputs included. Structured mode: an
 * object `{name: [paths]}` giving path-info JSON for `.attrs.json`.
 */
import type { Derivation } from "../derivation/types.ts";
import { toUtf8 } from "../derivation/types.ts";
import { type StorePath, storePathContaining } from "../store-path/store-path.ts";
import { closureSize, requisites } from "../store/closure.ts";
import type { LocalStore } from "../store/local-store.ts";
import { checkGraphName, tokenize } from "./environment.ts";
import { BuildError } from "./errors.ts";

function closureOf(store: LocalStore, paths: readonly StorePath[], inputs: readonly StorePath[], what: string): StorePath[] {
  const visible = new Set(inputs.map((p) => p.baseName));
  for (const path of paths) {
    if (!visible.has(path.baseName)) throw new BuildError(`'exportReferencesGraph' contains a path '${store.print(path)}' that is not an input of ${what}`);
  }
  return requisites(store, paths, true);
}

function validityText(store: LocalStore, closure: readonly StorePath[]): string {
  let out = "";
  for (const path of closure) {
    const info = store.requireInfo(path);
    out += `${store.print(path)}\n\n${info.references.length}\n`;
    for (const ref of info.references) out += `${store.print(ref)}\n`;
  }
  return out;
}

export function referenceGraphs(store: LocalStore, drv: Derivation, structured: Record<string, unknown> | undefined, inputs: readonly StorePath[]): Map<string, string | unknown> {
  const graphs = new Map<string, string | unknown>();
  const parse = (text: string) => storePathContaining(store.storeDir, text);
  if (structured) {
    const value = structured.exportReferencesGraph;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return graphs;
    for (const [name, paths] of Object.entries(value as Record<string, unknown>)) {
      const list = (Array.isArray(paths) ? paths : [paths]).map((p) => parse(String(p)));
      const closure = closureOf(store, list, inputs, "the build");
      graphs.set(
        name,
        closure.map((p) => {
          const info = store.requireInfo(p);
          const entry = { closureSize: closureSize(store, p), narHash: info.narHash.toString(), narSize: info.narSize, path: store.print(p), references: info.references.map((r) => store.print(r)) };
          return info.ca === undefined ? entry : { ...entry, ca: info.ca };
        }),
      );
    }
    return graphs;
  }
  const tokens = tokenize(toUtf8(drv.env.get("exportReferencesGraph") ?? ""));
  if (tokens.length % 2 !== 0) throw new BuildError(`odd number of tokens in 'exportReferencesGraph': '${tokens.join(" ")}'`);
  for (let i = 0; i < tokens.length; i += 2) {
    const name = tokens[i]!;
    checkGraphName(name);
    graphs.set(name, validityText(store, closureOf(store, [parse(tokens[i + 1]!)], inputs, "the build")));
  }
  return graphs;
}
