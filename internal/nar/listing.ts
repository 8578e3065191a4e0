/**
 * The listing of a NAR's entries (`nix nar ls`): types, sizes, executable
 * bits, symlink targets and content offsets, without the contents.
 */
import type { ByteSource } from "../stream/byte-source.ts";
import { NarReader } from "./reader.ts";

export type ListingNode =
  | { type: "regular"; size: number; executable: boolean; narOffset: number }
  | { type: "symlink"; target: Uint8Array }
  | { type: "directory"; entries: Map<string, ListingNode> };

/** Entry names are kept as latin1 strings so that any byte round-trips. */
export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
}

/** Reads a NAR into a tree of listing nodes (contents skipped). */
export async function listNar(source: ByteSource): Promise<ListingNode> {
  let root: ListingNode | undefined;
  const directories = new Map<string, Map<string, ListingNode>>();
  for await (const entry of new NarReader(source)) {
    const path = latin1(entry.path);
    const node: ListingNode =
      entry.type === "regular"
        ? { type: "regular", size: entry.size, executable: entry.executable, narOffset: entry.narOffset }
        : entry.type === "symlink"
          ? { type: "symlink", target: entry.target }
          : { type: "directory", entries: new Map() };
    if (node.type === "directory") directories.set(path, node.entries);
    if (path === "") {
      root = node;
      continue;
    }
    const slash = path.lastIndexOf("/");
    const parent = directories.get(slash < 0 ? "" : path.slice(0, slash));
    parent?.set(path.slice(slash + 1), node);
  }
  if (root === undefined) throw new Error("a NAR without a root node was accepted");
  return root;
}
