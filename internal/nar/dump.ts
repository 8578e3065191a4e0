/**
 * NAR writer: serialises a file system tree (formats.md 3.3). It is a
 * synchronous generator of chunks from one reused buffer, so memory stays flat
 * whatever the size of the tree; each chunk is valid until the next is pulled.
 * File contents are read straight into the output buffer (no extra copy).
 *
 * Only what Nix records is captured: type (never following links), the
 * owner-execute bit, contents, symlink targets, and names sorted bytewise.
 *
 * The walk uses libc directly (openat/statx/getdents64 relative to the open
 * directory): with tens of thousands of small files, per-call overhead is what
 * decides the speed, and node:fs allocates a Stats object per call.
 */
import { ErrnoError } from "../../ffi/errno.ts";
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  DT_DIR,
  DT_LNK,
  DT_REG,
  type CString,
  type DirectoryListing,
  EMPTY_NAME,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_RDONLY,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  close,
  cPath,
  openat,
  readDirectory,
  readInto,
  readlinkAt,
  statxModeSize,
} from "../../ffi/libc.ts";
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
/** Room for the fixed tokens written between two flush checks. */
const TOKEN_ROOM = 128;
const CASE_HACK_BYTES = new TextEncoder().encode(CASE_HACK_SUFFIX);

/**
 * Buffers of finished dumps, reused by the next one: hashing many small
 * paths (verify, GC, optimise) should not allocate and zero a buffer each.
 * A dump holds its buffer until it ends, so dumps running side by side never
 * share one.
 */
const spareBuffers: Uint8Array[] = [];
const MAX_SPARE_BUFFERS = 4;

function acquireBuffer(size: number): Uint8Array {
  const at = spareBuffers.findIndex((buffer) => buffer.length === size);
  return at >= 0 ? spareBuffers.splice(at, 1)[0]! : new Uint8Array(size);
}

function releaseBuffer(buffer: Uint8Array): void {
  if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(buffer);
}

class Output {
  readonly buffer: Uint8Array;
  length = 0;
  constructor(size: number) {
    this.buffer = acquireBuffer(size);
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
  /** str(bytes); the caller has made room for it. */
  putString(bytes: Uint8Array): void {
    this.putU64(bytes.length);
    this.put(bytes);
    this.zeros(paddingOf(bytes.length));
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

/** Bytes of str(x) for an x of `length` bytes. */
function stringSize(length: number): number {
  return 8 + length + paddingOf(length);
}

/** The path being dumped, as directory entries; joined only for error messages. */
class Trail {
  private readonly listings: DirectoryListing[] = [];
  private readonly indices: number[] = [];
  constructor(private readonly root: string) {}
  push(listing: DirectoryListing, index: number): void {
    this.listings.push(listing);
    this.indices.push(index);
  }
  pop(): void {
    this.listings.pop();
    this.indices.pop();
  }
  text(): string {
    const names = this.listings.map((listing, i) => Buffer.from(listing.name(this.indices[i]!)).toString("utf8"));
    return [this.root, ...names].join("/");
  }
  fail(what: string, error: unknown): never {
    throw error instanceof ErrnoError || (error as NodeJS.ErrnoException).code ? new SystemError(`${what} '${this.text()}'`, error) : error;
  }
}

const scratchStat = { mode: 0, size: 0 };

/** Serialises the tree at `path` as a NAR. */
export function* dumpPath(path: string, options: DumpOptions = {}): Generator<Uint8Array, void, undefined> {
  const out = new Output(Math.max(options.bufferSize ?? DEFAULT_BUFFER_SIZE, MIN_BUFFER_SIZE));
  try {
    const trail = new Trail(path);
    const root = cPath(path);
    try {
      statxModeSize(AT_FDCWD, root, AT_SYMLINK_NOFOLLOW, scratchStat);
    } catch (error) {
      trail.fail("getting status of", error);
    }
    out.put(TOKEN.magic);
    yield* dumpNode(out, AT_FDCWD, root, scratchStat.mode & S_IFMT, trail, options.caseHack ?? false);
    if (out.length > 0) yield out.take();
  } finally {
    // The consumer has taken the last chunk: it asked for the next one, or stopped.
    releaseBuffer(out.buffer);
  }
}

/**
 * Dumps the entry `cName` (NUL-terminated) of the directory `dirfd`, whose
 * type is `type` (S_IF*). Only directories and files larger than the free
 * buffer need the generator; the rest is written without allocating one.
 */
function* dumpNode(out: Output, dirfd: number, cName: CString, type: number, trail: Trail, caseHack: boolean): Generator<Uint8Array, void, undefined> {
  if (out.free < TOKEN_ROOM) yield out.take();
  out.put(TOKEN.open);
  out.put(TOKEN.type);
  if (type === S_IFREG) {
    const file = openRegular(dirfd, cName, trail);
    try {
      if (out.free < TOKEN_ROOM + file.size) yield* dumpLargeContents(out, file, trail);
      else dumpSmallContents(out, file, trail);
    } finally {
      close(file.fd);
    }
  } else if (type === S_IFLNK) {
    out.put(TOKEN.symlink);
    out.put(TOKEN.target);
    let target: Uint8Array;
    try {
      target = readlinkAt(dirfd, cName);
    } catch (error) {
      trail.fail("reading symbolic link", error);
    }
    if (out.free < stringSize(target.length)) yield out.take();
    out.putString(target);
  } else if (type === S_IFDIR) {
    out.put(TOKEN.directory);
    yield* dumpDirectory(out, dirfd, cName, trail, caseHack);
  } else {
    throw new NarError(`file '${trail.text()}' has an unsupported type`);
  }
  if (out.free < TOKEN_ROOM) yield out.take();
  out.put(TOKEN.close);
}

interface OpenFile {
  fd: number;
  size: number;
  executable: boolean;
}

/** Opens a regular file and reads its mode and size from the open descriptor. */
function openRegular(dirfd: number, cName: CString, trail: Trail): OpenFile {
  let fd: number;
  try {
    fd = openat(dirfd, cName, O_RDONLY | O_NOFOLLOW);
  } catch (error) {
    trail.fail("opening file", error);
  }
  try {
    statxModeSize(fd, EMPTY_NAME, AT_EMPTY_PATH, scratchStat);
  } catch (error) {
    close(fd);
    trail.fail("getting status of", error);
  }
  if ((scratchStat.mode & S_IFMT) !== S_IFREG) {
    close(fd);
    throw new NarError(`file '${trail.text()}' changed type while it was being archived`);
  }
  return { fd, size: scratchStat.size, executable: (scratchStat.mode & 0o100) !== 0 };
}

function putRegularHeader(out: Output, file: OpenFile): void {
  out.put(TOKEN.regular);
  if (file.executable) {
    out.put(TOKEN.executable);
    out.put(TOKEN.empty);
  }
  out.put(TOKEN.contents);
  out.putU64(file.size);
}

/** Reads up to `want` bytes of the file into the output buffer. */
function readSome(out: Output, file: OpenFile, want: number, trail: Trail): number {
  let n: number;
  try {
    n = readInto(file.fd, out.buffer, out.length, want);
  } catch (error) {
    trail.fail("reading file", error);
  }
  if (n === 0) throw new NarError(`file '${trail.text()}' shrank while it was being archived`);
  out.length += n;
  return n;
}

/** The whole file fits in the free part of the buffer. */
function dumpSmallContents(out: Output, file: OpenFile, trail: Trail): void {
  putRegularHeader(out, file);
  for (let left = file.size; left > 0; ) left -= readSome(out, file, left, trail);
  out.zeros(paddingOf(file.size));
}

function* dumpLargeContents(out: Output, file: OpenFile, trail: Trail): Generator<Uint8Array, void, undefined> {
  putRegularHeader(out, file);
  let left = file.size;
  while (left > 0) {
    if (out.free < MIN_READ && out.free < left) yield out.take();
    left -= readSome(out, file, Math.min(out.free, left), trail);
  }
  if (out.free < TOKEN_ROOM) yield out.take();
  out.zeros(paddingOf(file.size));
}

function modeFromDirentType(type: number): number {
  return type === DT_REG ? S_IFREG : type === DT_DIR ? S_IFDIR : type === DT_LNK ? S_IFLNK : -1;
}

function* dumpDirectory(out: Output, dirfd: number, cName: CString, trail: Trail, caseHack: boolean): Generator<Uint8Array, void, undefined> {
  let fd: number;
  try {
    fd = openat(dirfd, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (error) {
    trail.fail("opening directory", error);
  }
  try {
    let listing: DirectoryListing;
    try {
      listing = readDirectory(fd);
    } catch (error) {
      trail.fail("reading directory", error);
    }
    // Length of each name in the NAR: the case hack drops its suffix.
    const narLength = caseHack ? listing.lengths.map((length, i) => Math.min(length, ...[listing.indexIn(i, CASE_HACK_BYTES)].filter((x) => x >= 0))) : listing.lengths;
    const order = listing.starts.map((_, i) => i);
    order.sort((i, j) => listing.compare(i, narLength[i]!, j, narLength[j]!));
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      const length = narLength[i]!;
      trail.push(listing, i);
      if (caseHack && k > 0 && listing.compare(order[k - 1]!, narLength[order[k - 1]!]!, i, length) === 0) {
        throw new NarError(`file name collision in '${trail.text()}': two names strip to the same name`);
      }
      const name = listing.namePointer(i);
      let type = modeFromDirentType(listing.types[i]!);
      if (type < 0) {
        try {
          statxModeSize(fd, name, AT_SYMLINK_NOFOLLOW, scratchStat);
        } catch (error) {
          trail.fail("getting status of", error);
        }
        type = scratchStat.mode & S_IFMT;
      }
      if (out.free < TOKEN_ROOM + stringSize(length)) yield out.take();
      out.put(TOKEN.entry);
      out.put(TOKEN.open);
      out.put(TOKEN.name);
      out.putU64(length);
      listing.copyName(i, length, out.buffer, out.length);
      out.length += length;
      out.zeros(paddingOf(length));
      out.put(TOKEN.node);
      yield* dumpNode(out, fd, name, type, trail, caseHack);
      if (out.free < TOKEN_ROOM) yield out.take();
      out.put(TOKEN.close);
      trail.pop();
    }
  } finally {
    close(fd);
  }
}
