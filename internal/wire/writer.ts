import { compareBytewise } from "../store-path/store-path.ts";

/**
 * Writing protocol primitives into one growing buffer, handed to the
 * transport as a whole by `take()`: a reply of many fields becomes one
 * write. Sets are written sorted (bytewise), as Nix does.
 */
export class WireWriter {
  // A Buffer, so that strings are encoded straight into it (no intermediate copy per string).
  private buffer = Buffer.alloc(4096);
  private view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
  private length = 0;

  get size(): number {
    return this.length;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + n) capacity *= 2;
    const next = Buffer.alloc(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  u64(value: number | bigint): this {
    this.reserve(8);
    if (typeof value === "bigint") {
      this.view.setBigUint64(this.length, value, true);
    } else {
      this.view.setUint32(this.length, value % 0x100000000, true);
      this.view.setUint32(this.length + 4, Math.floor(value / 0x100000000), true);
    }
    this.length += 8;
    return this;
  }

  bool(value: boolean): this {
    return this.u64(value ? 1 : 0);
  }

  /** A byte string with its padding. */
  bytes(value: Uint8Array): this {
    const padded = (value.length + 7) & ~7;
    this.u64(value.length);
    this.reserve(padded);
    this.buffer.set(value, this.length);
    this.buffer.fill(0, this.length + value.length, this.length + padded);
    this.length += padded;
    return this;
  }

  /** Text as UTF-8. */
  text(value: string): this {
    return this.encoded(value, Buffer.byteLength(value, "utf8"), "utf8");
  }

  /** A string of one char per byte (store paths, derivation fields). */
  latin1(value: string): this {
    return this.encoded(value, value.length, "latin1");
  }

  /** A string of `length` bytes once encoded, with its padding. */
  private encoded(value: string, length: number, encoding: "utf8" | "latin1"): this {
    const padded = (length + 7) & ~7;
    this.u64(length);
    this.reserve(padded);
    if (length > 0) this.buffer.write(value, this.length, length, encoding);
    this.buffer.fill(0, this.length + length, this.length + padded);
    this.length += padded;
    return this;
  }

  /** A list in the given order. */
  latin1List(values: readonly string[]): this {
    this.u64(values.length);
    for (const value of values) this.latin1(value);
    return this;
  }

  /** A set: sorted bytewise, without duplicates. */
  latin1Set(values: Iterable<string>): this {
    return this.latin1List([...new Set(values)].sort(compareBytewise));
  }

  /** Raw bytes without a length (NAR data). */
  raw(value: Uint8Array): this {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  /** Everything written so far (a copy), leaving the writer empty. */
  take(): Uint8Array {
    const out = new Uint8Array(this.buffer.subarray(0, this.length)); // a plain copy (Buffer#slice would share memory)
    this.length = 0;
    if (this.buffer.length > 1 << 20) {
      this.buffer = Buffer.alloc(4096);
      this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
    }
    return out;
  }
}
