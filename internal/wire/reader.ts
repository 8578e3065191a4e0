/**
 * Reading the primitives shared by the worker and serve protocols
 * (worker-protocol.md 2): little-endian u64 numbers, booleans, byte strings
 * padded to 8 bytes, string lists. Every read names what it reads, so that
 * a malformed message says which field was wrong and where.
 */
import type { ByteSource } from "../stream/byte-source.ts";
import { WireError } from "./errors.ts";

/** No string a peer sends (paths, settings, log text, derivation fields) comes near this. */
export const MAX_STRING = 64 << 20;
/** Nor does any list (references, paths to query). */
export const MAX_LIST = 1 << 24;

const decoder = new TextDecoder();

/** Bytes as one char per byte, read through a view (no copy). */
function latin1Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
}

/** A little-endian u64 from 8 bytes, or undefined when it does not fit in 2^53. */
function decodeU64(bytes: Uint8Array): number | undefined {
  const low = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
  const high = (bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24)) >>> 0;
  return high >= 0x200000 ? undefined : high * 0x100000000 + low;
}

export class WireReader {
  constructor(readonly source: ByteSource) {}

  get position(): number {
    return this.source.position;
  }

  /** A u64 that must fit in a JavaScript number (2^53), as every count and size does. */
  async u64(what: string): Promise<number> {
    const buffered = this.takeBufferedU64(Number.MAX_SAFE_INTEGER);
    if (buffered !== undefined) return buffered;
    const at = this.source.position;
    const bytes = await this.source.readExact(8);
    const value = decodeU64(bytes);
    if (value === undefined) {
      throw new WireError(`serialised integer ${new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)} is too large for ${what}`, at);
    }
    return value;
  }

  /**
   * Fast path (the usual case: a whole request arrives in one chunk), no
   * awaits: a buffered u64 up to `max`, consumed; else undefined, nothing consumed.
   */
  private takeBufferedU64(max: number): number | undefined {
    const buffered = this.source.peekBuffered(0, 8);
    if (buffered === undefined) return undefined;
    const value = decodeU64(buffered);
    if (value === undefined || value > max) return undefined;
    this.source.takeBuffered(8);
    return value;
  }

  /** A u64 read in full (times, max-freed limits). */
  async u64Big(_what: string): Promise<bigint> {
    const bytes = await this.source.readExact(8);
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  }

  /** A u64 narrowed to 32 bits (op codes, versions), as Nix narrows them. */
  async u32(what: string): Promise<number> {
    const buffered = this.takeBufferedU64(0xffffffff);
    if (buffered !== undefined) return buffered;
    const at = this.source.position;
    const value = await this.u64Big(what);
    if (value > 0xffffffffn) throw new WireError(`serialised integer ${value} is too large for ${what}`, at);
    return Number(value);
  }

  async bool(_what: string): Promise<boolean> {
    const bytes = this.source.takeBuffered(8) ?? (await this.source.readExact(8));
    for (let i = 0; i < 8; i++) if (bytes[i] !== 0) return true;
    return false;
  }

  private async length(what: string, max: number): Promise<number> {
    const at = this.source.position;
    const n = await this.u64(`the length of ${what}`);
    if (n > max) throw new WireError(`${what} is ${n} bytes long, more than the ${max} allowed`, at);
    return n;
  }

  private async padding(length: number, what: string): Promise<void> {
    const pad = (8 - (length % 8)) % 8;
    if (pad === 0) return;
    const at = this.source.position;
    const bytes = await this.source.readExact(pad);
    for (let i = 0; i < pad; i++) if (bytes[i] !== 0) throw new WireError(`non-zero padding after ${what}`, at);
  }

  /** A byte string (a copy: it outlives the next read). */
  async bytes(what: string, max = MAX_STRING): Promise<Uint8Array> {
    const n = await this.length(what, max);
    const out = n === 0 ? new Uint8Array(0) : (await this.source.readExact(n)).slice();
    await this.padding(n, what);
    return out;
  }

  /** A string as text: UTF-8 decoded (invalid sequences become U+FFFD). */
  async text(what: string, max = MAX_STRING): Promise<string> {
    const buffered = this.takeBufferedString(max);
    if (buffered !== undefined) return buffered.length === 0 ? "" : decoder.decode(buffered);
    const n = await this.length(what, max);
    const out = n === 0 ? "" : decoder.decode(await this.source.readExact(n));
    await this.padding(n, what);
    return out;
  }

  /**
   * A whole string (length, bytes, zero padding) if it is all buffered, else
   * undefined with nothing consumed; malformed input is left to the slow path,
   * which reports it with its position.
   */
  private takeBufferedString(max: number): Uint8Array | undefined {
    const head = this.source.peekBuffered(0, 8);
    if (head === undefined) return undefined;
    const n = decodeU64(head);
    if (n === undefined || n > max) return undefined;
    const padded = (n + 7) & ~7;
    if (this.source.buffered < 8 + padded) return undefined;
    const padding = this.source.peekBuffered(8 + n, padded - n)!;
    for (let i = 0; i < padding.length; i++) if (padding[i] !== 0) return undefined;
    this.source.takeBuffered(8);
    const bytes = this.source.takeBuffered(n)!;
    this.source.takeBuffered(padded - n);
    return bytes;
  }

  /** A string whose bytes are kept one char per byte (store paths, derivation fields). */
  async latin1(what: string, max = MAX_STRING): Promise<string> {
    const buffered = this.takeBufferedString(max);
    if (buffered !== undefined) return buffered.length === 0 ? "" : latin1Of(buffered);
    const n = await this.length(what, max);
    const out = n === 0 ? "" : latin1Of(await this.source.readExact(n));
    await this.padding(n, what);
    return out;
  }

  /** A count of list elements, bounded. */
  async count(what: string, max = MAX_LIST): Promise<number> {
    const at = this.source.position;
    const n = await this.u64(`the number of ${what}`);
    if (n > max) throw new WireError(`${n} ${what} are more than the ${max} allowed`, at);
    return n;
  }

  /** A list of strings, one char per byte. */
  async latin1List(what: string): Promise<string[]> {
    const n = await this.count(what);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await this.latin1(what));
    return out;
  }
}
