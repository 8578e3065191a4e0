/**
 * Streaming NAR reader. It yields the entries of a NAR in order (pre-order,
 * parents before children) like a tar reader: a regular file's contents must
 * be read from `entry.contents()` before the next entry is pulled, or they are
 * skipped. Nothing is buffered beyond one token; memory is flat.
 *
 * It is strict where Nix 2.8 is lenient (formats.md 3.4): the grammar must be
 * exactly what a NAR writer emits, entries must be sorted bytewise without
 * duplicates, names must be valid file names, padding must be zero. An error
 * poisons the reader: every later call throws it again.
 */
import type { ByteSource } from "../stream/byte-source.ts";
import { MAGIC, MAX_NAME_LENGTH, MAX_TAG_LENGTH, MAX_TARGET_LENGTH, NarError, paddingOf } from "./tokens.ts";

export class NarFormatError extends NarError {
  override name = "NarFormatError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`bad NAR at byte ${offset}: ${message}`);
  }
}

interface EntryBase {
  /** Path inside the NAR: names joined with '/', empty for the root. */
  readonly path: Uint8Array;
}
export interface DirectoryEntry extends EntryBase {
  readonly type: "directory";
}
export interface SymlinkEntry extends EntryBase {
  readonly type: "symlink";
  readonly target: Uint8Array;
}
export interface RegularEntry extends EntryBase {
  readonly type: "regular";
  readonly executable: boolean;
  readonly size: number;
  /** Offset of the contents in the NAR (as `nix nar ls --json` prints). */
  readonly narOffset: number;
  /** The contents, in chunks valid until the next chunk is pulled. */
  contents(): AsyncIterable<Uint8Array>;
}
export type NarEntry = DirectoryEntry | SymlinkEntry | RegularEntry;

const decoder = new TextDecoder("utf-8", { fatal: false });
export function narPathText(path: Uint8Array): string {
  return decoder.decode(path);
}

const CONTENT_CHUNK = 1 << 20;
const SLASH = 0x2f;
const EMPTY = new Uint8Array(0);

function bytesEqual(a: Uint8Array, text: string): boolean {
  if (a.length !== text.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== text.charCodeAt(i)) return false;
  return true;
}

function printable(bytes: Uint8Array): string {
  return narPathText(bytes).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function checkName(name: Uint8Array): string | undefined {
  if (name.length === 0) return "it is empty";
  if (name.length === 1 && name[0] === 0x2e) return "'.' is not allowed";
  if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) return "'..' is not allowed";
  if (name.includes(SLASH)) return "it contains '/'";
  if (name.includes(0)) return "it contains a NUL byte";
  return undefined;
}

function join(dir: Uint8Array, name: Uint8Array): Uint8Array {
  if (dir.length === 0) return name.slice();
  const out = new Uint8Array(dir.length + 1 + name.length);
  out.set(dir, 0);
  out[dir.length] = SLASH;
  out.set(name, dir.length + 1);
  return out;
}

interface DirectoryFrame {
  readonly path: Uint8Array;
  previous: Uint8Array | undefined;
}

export class NarReader implements AsyncIterable<NarEntry> {
  private failure: unknown;
  private contentLeft = 0;
  private contentPadding = 0;
  private started = false;
  private finished = false;

  constructor(private readonly source: ByteSource) {}

  /** True once the whole NAR has been read successfully. */
  get done(): boolean {
    return this.finished;
  }

  [Symbol.asyncIterator](): AsyncIterator<NarEntry> {
    if (this.started) throw new NarError("a NAR can only be read once");
    this.started = true;
    const entries = this.entries();
    return {
      next: async () => {
        if (this.failure !== undefined) throw this.failure;
        try {
          return await entries.next();
        } catch (error) {
          this.failure = error;
          throw error;
        }
      },
      return: async () => {
        await entries.return(undefined);
        return { done: true, value: undefined };
      },
    };
  }

  private fail(message: string, offset = this.source.position): never {
    throw new NarFormatError(message, offset);
  }

  private async readU64(): Promise<number> {
    const bytes = await this.source.readExact(8);
    const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
    const low = view.getUint32(0, true);
    const high = view.getUint32(4, true);
    if (high >= 0x200000) this.fail("length field is larger than 2^53", this.source.position - 8);
    return high * 0x100000000 + low;
  }

  private async checkPadding(length: number): Promise<void> {
    const pad = paddingOf(length);
    if (pad === 0) return;
    const at = this.source.position;
    const bytes = await this.source.readExact(pad);
    for (let i = 0; i < pad; i++) if (bytes[i] !== 0) this.fail("non-zero padding", at + i);
  }

  /** Reads str(x) with |x| <= limit; `what` names the field for errors. */
  private async readString(limit: number, what: string): Promise<Uint8Array> {
    const at = this.source.position;
    const length = await this.readU64();
    if (length > limit) this.fail(`${what} is ${length} bytes long, more than the limit of ${limit}`, at);
    const bytes = length === 0 ? EMPTY : (await this.source.readExact(length)).slice();
    await this.checkPadding(length);
    return bytes;
  }

  /** Reads a short grammar token. */
  private async readTag(expected: string): Promise<Uint8Array> {
    const at = this.source.position;
    const length = await this.readU64();
    if (length > MAX_TAG_LENGTH) this.fail(`expected ${expected}, found a string of ${length} bytes`, at);
    const bytes = length === 0 ? EMPTY : (await this.source.readExact(length)).slice();
    await this.checkPadding(length);
    return bytes;
  }

  private async expectTag(token: string, expected = `'${token}'`): Promise<void> {
    const at = this.source.position;
    const tag = await this.readTag(expected);
    if (!bytesEqual(tag, token)) this.fail(`expected ${expected}, found '${printable(tag)}'`, at);
  }

  private async skipContents(): Promise<void> {
    while (this.contentLeft > 0) {
      const chunk = await this.source.readSome(Math.min(this.contentLeft, CONTENT_CHUNK));
      this.contentLeft -= chunk.length;
    }
    const pad = this.contentPadding;
    this.contentPadding = 0;
    if (pad > 0) {
      const at = this.source.position;
      const bytes = await this.source.readExact(pad);
      for (let i = 0; i < pad; i++) if (bytes[i] !== 0) this.fail("non-zero padding", at + i);
    }
  }

  private async *contentChunks(): AsyncGenerator<Uint8Array> {
    try {
      while (this.contentLeft > 0) {
        const chunk = await this.source.readSome(Math.min(this.contentLeft, CONTENT_CHUNK));
        this.contentLeft -= chunk.length;
        yield chunk;
      }
    } catch (error) {
      this.failure ??= error;
      throw error;
    }
  }

  private async *entries(): AsyncGenerator<NarEntry> {
    const magicAt = this.source.position;
    const magic = await this.readTag("the NAR magic");
    if (!bytesEqual(magic, MAGIC)) this.fail("input doesn't look like a Nix archive", magicAt);

    const stack: DirectoryFrame[] = [];
    let path: Uint8Array = EMPTY;
    for (;;) {
      // A node: "(" "type" <type> ...
      await this.expectTag("(", "'(' opening a node");
      await this.expectTag("type");
      const typeAt = this.source.position;
      const type = await this.readTag("a file type");
      if (bytesEqual(type, "regular")) {
        let executable = false;
        let fieldAt = this.source.position;
        let field = await this.readTag("'executable' or 'contents'");
        if (bytesEqual(field, "executable")) {
          const markerAt = this.source.position;
          const marker = await this.readTag("an empty string after 'executable'");
          if (marker.length !== 0) this.fail("executable marker has non-empty value", markerAt);
          executable = true;
          fieldAt = this.source.position;
          field = await this.readTag("'contents'");
        }
        if (!bytesEqual(field, "contents")) this.fail(`expected 'contents' in a regular file, found '${printable(field)}'`, fieldAt);
        const size = await this.readU64();
        this.contentLeft = size;
        this.contentPadding = paddingOf(size);
        const narOffset = this.source.position;
        yield { type: "regular", path, executable, size, narOffset, contents: () => this.contentChunks() };
        await this.skipContents();
        await this.expectTag(")", "')' closing a regular file");
        if (stack.length > 0) await this.expectTag(")", "')' closing a directory entry");
      } else if (bytesEqual(type, "symlink")) {
        await this.expectTag("target", "'target' in a symlink");
        const targetAt = this.source.position;
        const target = await this.readString(MAX_TARGET_LENGTH, "symlink target");
        if (target.length === 0) this.fail("symlink target is empty", targetAt);
        if (target.includes(0)) this.fail("symlink target contains a NUL byte", targetAt);
        yield { type: "symlink", path, target };
        await this.expectTag(")", "')' closing a symlink");
        if (stack.length > 0) await this.expectTag(")", "')' closing a directory entry");
      } else if (bytesEqual(type, "directory")) {
        yield { type: "directory", path };
        stack.push({ path, previous: undefined });
      } else {
        this.fail(`unknown file type '${printable(type)}'`, typeAt);
      }

      // Close finished directories until one has another entry, or the NAR ends.
      let next: Uint8Array | undefined;
      while (stack.length > 0 && next === undefined) {
        const frame = stack[stack.length - 1]!;
        const tagAt = this.source.position;
        const tag = await this.readTag("'entry' or ')'");
        if (bytesEqual(tag, ")")) {
          stack.pop();
          if (stack.length > 0) await this.expectTag(")", "')' closing a directory entry");
          continue;
        }
        if (!bytesEqual(tag, "entry")) this.fail(`expected 'entry' or ')' in a directory, found '${printable(tag)}'`, tagAt);
        await this.expectTag("(", "'(' opening a directory entry");
        await this.expectTag("name", "'name' in a directory entry");
        const nameAt = this.source.position;
        const name = await this.readString(MAX_NAME_LENGTH, "file name");
        const invalid = checkName(name);
        if (invalid) this.fail(`invalid file name '${printable(name)}' in '${printable(frame.path)}': ${invalid}`, nameAt);
        if (frame.previous !== undefined) {
          const order = Buffer.compare(frame.previous, name);
          if (order === 0) this.fail(`duplicate entry '${printable(name)}' in directory '${printable(frame.path)}'`, nameAt);
          if (order > 0) this.fail(`entry '${printable(name)}' is not sorted after '${printable(frame.previous)}'`, nameAt);
        }
        frame.previous = name;
        await this.expectTag("node", "'node' in a directory entry");
        next = join(frame.path, name);
      }
      if (next === undefined) break;
      path = next;
    }
    this.finished = true;
  }
}

/** Reads a whole NAR, discarding contents; throws on any error. */
export async function validateNar(source: ByteSource): Promise<void> {
  for await (const _ of new NarReader(source)) {
    // skipping is done by the reader
  }
}

/** Throws unless the source is exhausted (a NAR given as a whole file or stream). */
export async function expectEndOfNar(source: ByteSource): Promise<void> {
  if (!(await source.atEnd())) throw new NarFormatError("trailing data after the end of the archive", source.position);
}
