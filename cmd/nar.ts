/**
 * `bunix nar`: write a tree as a NAR (dump), recreate a tree from one
 * (restore), and list or print what a NAR holds (ls, cat).
 */
import type { CAC } from "cac";
import { growPipe } from "../ffi/libc.ts";
import { BunixError, UsageError } from "../internal/errors.ts";
import { dumpPath } from "../internal/nar/dump.ts";
import { type ListingNode, latin1, listNar } from "../internal/nar/listing.ts";
import { NarReader } from "../internal/nar/reader.ts";
import { restoreNar } from "../internal/nar/restore.ts";
import { type ByteSource, fileSource } from "../internal/stream/byte-source.ts";
import { type JsonNode, jsonObject, printJsonCompact } from "../internal/text/json.ts";
import { commandGroup, outBytes, runCac, str } from "./cli.ts";

/** The default maximum an unprivileged process may ask for (/proc/sys/fs/pipe-max-size). */
const PIPE_BUFFER_BYTES = 1 << 20;

interface CaseHackFlag {
  caseHack?: boolean;
}

/** Streams the NAR of `path` to stdout. */
export function dumpToStdout(path: string, caseHack: boolean): void {
  growPipe(1, PIPE_BUFFER_BYTES);
  for (const chunk of dumpPath(path, { caseHack })) outBytes(chunk);
}

/** The NAR source for restore: stdin, which must not be a terminal. */
export function stdinNar(): ByteSource {
  if (process.stdin.isTTY) throw new UsageError("refusing to read a NAR from a terminal: pipe one into standard input");
  return fileSource("-");
}

export async function restoreFromStdin(path: string, caseHack: boolean): Promise<void> {
  await restoreNar(stdinNar(), path, { caseHack, requireEnd: true });
}

/** Looks up `/a/b` in a listing; undefined when missing. */
function lookup(root: ListingNode, path: string): ListingNode | undefined {
  let node: ListingNode | undefined = root;
  for (const part of path.split("/").filter((p) => p !== "")) {
    if (node?.type !== "directory") return undefined;
    node = node.entries.get(latin1(Buffer.from(part)));
  }
  return node;
}

function modeString(node: ListingNode): string {
  if (node.type === "directory") return "dr-xr-xr-x";
  if (node.type === "symlink") return "lrwxrwxrwx";
  return node.executable ? "-r-xr-xr-x" : "-r--r--r--";
}

function lsLines(node: ListingNode, relPath: string, long: boolean, recursive: boolean, top: boolean, lines: string[]): void {
  if (node.type === "directory" && (top || recursive)) {
    for (const [name, child] of node.entries) {
      const childPath = `${relPath}/${name}`;
      showLine(child, childPath, long, lines);
      if (recursive && child.type === "directory") lsLines(child, childPath, long, recursive, false, lines);
    }
    return;
  }
  showLine(node, relPath, long, lines);
}

function showLine(node: ListingNode, relPath: string, long: boolean, lines: string[]): void {
  if (!long) {
    lines.push(relPath);
    return;
  }
  const size = node.type === "regular" ? node.size : 0;
  const target = node.type === "symlink" ? ` -> ${latin1(node.target)}` : "";
  lines.push(`${modeString(node)} ${String(size).padStart(20)} ${relPath}${target}`);
}

function lsJson(node: ListingNode, recursive: boolean, top: boolean): JsonNode {
  if (node.type === "regular") {
    const entries: Array<[string, JsonNode]> = [["type", "regular"], ["size", node.size]];
    if (node.executable) entries.push(["executable", true]);
    entries.push(["narOffset", node.narOffset]);
    return jsonObject(entries);
  }
  if (node.type === "symlink") return jsonObject([["type", "symlink"], ["target", latin1(node.target)]]);
  const children = [...node.entries].map(([name, child]) => [name, top || recursive ? lsJson(child, recursive, false) : jsonObject([])] as const);
  return jsonObject([["type", "directory"], ["entries", jsonObject(recursive || top ? children : [])]]);
}

async function ls(file: string, path: string | undefined, flags: { long?: boolean; recursive?: boolean; json?: boolean; directory?: boolean }) {
  const inside = str(path) ?? "/";
  const root = await listNar(fileSource(file));
  const node = lookup(root, inside);
  if (node === undefined) throw new BunixError(`path '${inside}' does not exist in '${file}'`);
  if (flags.json) {
    outBytes(Buffer.from(`${printJsonCompact(lsJson(node, flags.recursive === true, !flags.directory))}\n`, "latin1"));
    return;
  }
  const base = inside.split("/").filter((p) => p !== "").pop();
  const lines: string[] = [];
  lsLines(node, base === undefined ? "." : latin1(Buffer.from(base)), flags.long === true, flags.recursive === true, !flags.directory, lines);
  if (lines.length > 0) outBytes(Buffer.from(`${lines.join("\n")}\n`, "latin1"));
}

async function cat(file: string, path: string) {
  const wanted = Buffer.from(String(path).split("/").filter((p) => p !== "").join("/"));
  for await (const entry of new NarReader(fileSource(file))) {
    if (Buffer.compare(Buffer.from(entry.path), wanted) !== 0) continue;
    if (entry.type !== "regular") throw new BunixError(`path '${path}' in '${file}' is a ${entry.type}, not a regular file`);
    for await (const chunk of entry.contents()) outBytes(chunk);
    return;
  }
  throw new BunixError(`path '${path}' does not exist in '${file}'`);
}

export function narCli(): CAC {
  const cli = commandGroup("bunix nar");
  cli
    .command("dump <path>", "Write the NAR serialisation of PATH to standard output (nix-store --dump)")
    .option("--case-hack", "Strip ~nix~case~hack~N suffixes from names")
    .action((path: string, flags: CaseHackFlag) => dumpToStdout(String(path), flags.caseHack === true));
  cli
    .command("restore <path>", "Recreate the tree of the NAR on standard input at PATH, which must not exist (nix-store --restore)")
    .option("--case-hack", "Give names that differ only in case a ~nix~case~hack~N suffix")
    .action((path: string, flags: CaseHackFlag) => restoreFromStdin(String(path), flags.caseHack === true));
  cli
    .command("ls <file> [path]", "List the contents of a NAR file at PATH inside it (default /) (nix nar ls)")
    .option("-l, --long", "Show type, permissions and size")
    .option("-R, --recursive", "List subdirectories recursively")
    .option("-d, --directory", "Show directories rather than their contents")
    .option("--json", "Print JSON")
    .action(ls);
  cli.command("cat <file> <path>", "Print the contents of a regular file inside a NAR file (nix nar cat)").action(cat);
  return cli;
}

export const run = (argv: readonly string[]) => runCac(narCli(), argv);

