/**
 * NAR writer: serialises a file system tree (formats.md 3.3). It is a
 * synchronous generator of chunks from one reused buffer, so memory stays flat
 * whatever the size of the tree; each chunk is valid until the next is pulled.
 * File contents are read straight into the output buffer (no extra copy).
 *
 * Only what Nix records is captured: type (lstat, never following links), the
 * owner-execute bit, contents, symlink targets, and names sorted bytewise.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, readlinkSync } from "node:fs";
import { SystemError } from "../errors.ts";
import { CASE_HACK_SUFFIX, NarError, TOKEN, paddingOf, writeU64 } from "./tokens.ts";

export interface DumpOptions {
  /** Strip `~nix~case~hack~N` suffixes from names (use-case-hack). */
  caseHack?: boolean;
  /** Size of the reused output buffer. */
  bufferSize?: number;
}

const DEFAULT_BUFFER_SIZE = 1 << 20;
/** Must hold the tokens of one entry plus the longest symlink target (4 KiB). */
const MIN_BUFFER_SIZE = 16 << 10;
/** Below this much free space, flush before reading file data (avoids tiny reads). */
const MIN_READ = 64 << 10;
const SLASH = new Uint8Array([0x2f]);
const CASE_HACK_BYTES = new TextEncoder().encode(CASE_HACK_SUFFIX);

type Path = Buffer;

function pathText(path: Path): string {
  return Buffer.from(path).toString("utf8");
}

function join(dir: Path, name: Uint8Array): Path {
  return Buffer.concat([dir, SLASH, name]);
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.length).indexOf(needle);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

class Output {
  readonly buffer: Uint8Array;
  length = 0;
  constructor(size: number) {
    this.buffer = new Uint8Array(size);
  }
  get free(): number {
    return this.buffer.length - this.length;
  }
  put(bytes: Uint8Array): void {
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }
  putU64(value: number): void {
    writeU64(this.buffer, this.length, value);
    this.length += 8;
  }
  zeros(n: number): void {
    this.buffer.fill(0, this.length, this.length + n);
    this.length += n;
  }
  take(): Uint8Array {
    const chunk = this.buffer.subarray(0, this.length);
    this.length = 0;
    return chunk;
  }
}

/** Serialises the tree at `path` as a NAR. */
export function* dumpPath(path: string | Uint8Array, options: DumpOptions = {}): Generator<Uint8Array, void, undefined> {
  const out = new Output(Math.max(options.bufferSize ?? DEFAULT_BUFFER_SIZE, MIN_BUFFER_SIZE));
  const root = typeof path === "string" ? Buffer.from(path) : Buffer.from(path.buffer, path.byteOffset, path.length);
  out.put(TOKEN.magic);
  yield* dumpNode(out, root, options.caseHack ?? false);
  if (out.length > 0) yield out.take();
}

/** Room for the fixed tokens written between two flush checks. */
const TOKEN_ROOM = 128;

/** Bytes of str(x) for an x of `length` bytes. */
function stringSize(length: number): number {
  return 8 + length + paddingOf(length);
}

/** Writes str(bytes); the caller has made room for it. */
function putString(out: Output, bytes: Uint8Array): void {
  out.putU64(bytes.length);
  out.put(bytes);
  out.zeros(paddingOf(bytes.length));
}

function* dumpNode(out: Output, path: Path, caseHack: boolean): Generator<Uint8Array, void, undefined> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (error) {
    throw new SystemError(`getting status of '${pathText(path)}'`, error);
  }
  if (out.free < TOKEN_ROOM) yield out.take();
  out.put(TOKEN.open);
  out.put(TOKEN.type);
  if (stat.isFile()) {
    out.put(TOKEN.regular);
    if (stat.mode & 0o100) {
      out.put(TOKEN.executable);
      out.put(TOKEN.empty);
    }
    out.put(TOKEN.contents);
    yield* dumpContents(out, path);
  } else if (stat.isSymbolicLink()) {
    out.put(TOKEN.symlink);
    out.put(TOKEN.target);
    let target: Uint8Array;
    try {
      target = readlinkSync(path, { encoding: "buffer" });
    } catch (error) {
      throw new SystemError(`reading symbolic link '${pathText(path)}'`, error);
    }
    if (out.free < stringSize(target.length)) yield out.take();
    putString(out, target);
  } else if (stat.isDirectory()) {
    out.put(TOKEN.directory);
    for (const [name, onDisk] of directoryEntries(path, caseHack)) {
      if (out.free < TOKEN_ROOM + stringSize(name.length)) yield out.take();
      out.put(TOKEN.entry);
      out.put(TOKEN.open);
      out.put(TOKEN.name);
      putString(out, name);
      out.put(TOKEN.node);
      yield* dumpNode(out, join(path, onDisk), caseHack);
      if (out.free < TOKEN_ROOM) yield out.take();
      out.put(TOKEN.close);
    }
  } else {
    throw new NarError(`file '${pathText(path)}' has an unsupported type`);
  }
  if (out.free < TOKEN_ROOM) yield out.take();
  out.put(TOKEN.close);
}

/** [name in the NAR, name on disk] pairs in NAR order. */
function directoryEntries(path: Path, caseHack: boolean): Array<[Uint8Array, Uint8Array]> {
  let names: Uint8Array[];
  try {
    names = readdirSync(path, { encoding: "buffer" }) as unknown as Uint8Array[];
  } catch (error) {
    throw new SystemError(`opening directory '${pathText(path)}'`, error);
  }
  const pairs: Array<[Uint8Array, Uint8Array]> = names.map((name) => {
    if (!caseHack) return [name, name];
    const at = indexOfBytes(name, CASE_HACK_BYTES);
    return [at >= 0 ? name.subarray(0, at) : name, name];
  });
  pairs.sort((a, b) => compareBytes(a[0], b[0]));
  if (caseHack) {
    for (let i = 1; i < pairs.length; i++) {
      if (compareBytes(pairs[i - 1]![0], pairs[i]![0]) === 0) {
        throw new NarError(`file name collision between '${pathText(join(path, pairs[i - 1]![1]))}' and '${pathText(join(path, pairs[i]![1]))}'`);
      }
    }
  }
  return pairs;
}

function* dumpContents(out: Output, path: Path): Generator<Uint8Array, void, undefined> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw new SystemError(`opening file '${pathText(path)}'`, error);
  }
  try {
    const size = fstatSync(fd).size;
    if (out.free < TOKEN_ROOM) yield out.take();
    out.putU64(size);
    let left = size;
    while (left > 0) {
      if (out.free < MIN_READ && out.free < left) yield out.take();
      const want = Math.min(out.free, left);
      let n: number;
      try {
        n = readSync(fd, out.buffer, out.length, want, null);
      } catch (error) {
        throw new SystemError(`reading file '${pathText(path)}'`, error);
      }
      if (n === 0) throw new NarError(`file '${pathText(path)}' shrank while it was being archived`);
      out.length += n;
      left -= n;
    }
    if (out.free < TOKEN_ROOM) yield out.take();
    out.zeros(paddingOf(size));
  } finally {
    closeSync(fd);
  }
}
