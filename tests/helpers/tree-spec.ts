/** Trees described as in the vectors (fixtures/nar-hashes.json), written to and read from disk. */
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";

export type TreeSpec =
  | { type: "regular"; executable: boolean; contents_base64: string; mode?: string }
  | { type: "symlink"; target: string }
  | { type: "directory"; entries: Record<string, TreeSpec> };

export function writeTreeSpec(path: string, spec: TreeSpec): void {
  if (spec.type === "directory") {
    mkdirSync(path);
    for (const [name, child] of Object.entries(spec.entries)) writeTreeSpec(`${path}/${name}`, child);
  } else if (spec.type === "symlink") {
    symlinkSync(spec.target, path);
  } else {
    writeFileSync(path, Buffer.from(spec.contents_base64, "base64"));
    chmodSync(path, spec.mode ? Number.parseInt(spec.mode, 8) : spec.executable ? 0o755 : 0o644);
  }
}

/** Reads a tree back in the same shape (mode omitted; executable = owner-execute bit). */
export function readTreeSpec(path: string): TreeSpec {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return { type: "symlink", target: readlinkSync(path) };
  if (stat.isDirectory()) {
    const entries: Record<string, TreeSpec> = {};
    for (const name of readdirSync(path).sort()) entries[name] = readTreeSpec(`${path}/${name}`);
    return { type: "directory", entries };
  }
  return { type: "regular", executable: (stat.mode & 0o100) !== 0, contents_base64: readFileSync(path).toString("base64") };
}

/** Drops fields readTreeSpec does not produce, for comparisons. */
export function normaliseSpec(spec: TreeSpec): TreeSpec {
  if (spec.type === "directory") {
    const entries: Record<string, TreeSpec> = {};
    for (const name of Object.keys(spec.entries).sort()) entries[name] = normaliseSpec(spec.entries[name]!);
    return { type: "directory", entries };
  }
  if (spec.type === "symlink") return { type: "symlink", target: spec.target };
  return { type: "regular", executable: spec.executable, contents_base64: spec.contents_base64 };
}
