/**
 * The wire reader takes a fast path when a whole field is already buffered
 * and a waiting path when it is split across chunks: both must give the same
 * values, consume the same bytes and report malformed input the same way.
 */
import { describe, expect, test } from "bun:test";
import { ChunkSource } from "../../internal/stream/byte-source.ts";
import { WireError } from "../../internal/wire/errors.ts";
import { WireReader } from "../../internal/wire/reader.ts";
import { WireWriter } from "../../internal/wire/writer.ts";

/** The bytes as one chunk, as chunks of `size` bytes, and as single bytes behind an async iterator. */
function chunkings(bytes: Uint8Array): Array<[string, () => WireReader]> {
  const split = (size: number) => {
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
    return chunks;
  };
  async function* slowly(chunks: Uint8Array[]) {
    for (const chunk of chunks) {
      await Promise.resolve();
      yield chunk;
    }
  }
  return [
    ["one chunk", () => new WireReader(new ChunkSource([bytes]))],
    ["chunks of 5 bytes", () => new WireReader(new ChunkSource(split(5)))],
    ["single bytes, arriving late", () => new WireReader(new ChunkSource(slowly(split(1))))],
  ];
}

async function failure(read: () => Promise<unknown>): Promise<WireError> {
  try {
    await read();
  } catch (error) {
    expect(error).toBeInstanceOf(WireError);
    return error as WireError;
  }
  throw new Error("the read did not fail");
}

describe("fields read the same however they arrive", () => {
  const message = new WireWriter()
    .u64(26)
    .latin1("/nix/store/b35m0jqajr9h2j9r3d7ck5fqyrajjj5h-f1")
    .text("héllo wörld")
    .latin1("")
    .bool(true)
    .u64(2 ** 53 - 1)
    .latin1List(["a", "bcdefghij", ""])
    .take();

  for (const [how, reader] of chunkings(message)) {
    test(how, async () => {
      const r = reader();
      expect(await r.u32("op")).toBe(26);
      expect(await r.latin1("path")).toBe("/nix/store/b35m0jqajr9h2j9r3d7ck5fqyrajjj5h-f1");
      expect(await r.text("text")).toBe("héllo wörld");
      expect(await r.latin1("empty")).toBe("");
      expect(await r.bool("flag")).toBe(true);
      expect(await r.u64("big")).toBe(2 ** 53 - 1);
      expect(await r.latin1List("list")).toEqual(["a", "bcdefghij", ""]);
      expect(r.position).toBe(message.length);
      expect(await r.source.atEnd()).toBe(true);
    });
  }
});

describe("malformed fields fail with their position however they arrive", () => {
  test("non-zero padding after a string", async () => {
    const bytes = new WireWriter().latin1("abc").take();
    bytes[8 + 3 + 2] = 7;
    for (const [, reader] of chunkings(bytes)) {
      const error = await failure(() => reader().latin1("the path"));
      expect(error.message).toContain("non-zero padding after the path");
      expect(error.message).toContain("(at byte 11 of the incoming stream)"); // where the padding starts
    }
  });

  test("a string longer than allowed", async () => {
    const bytes = new WireWriter().latin1("x".repeat(100)).take();
    for (const [, reader] of chunkings(bytes)) {
      const error = await failure(() => reader().latin1("the name", 64));
      expect(error.message).toContain("the name is 100 bytes long, more than the 64 allowed");
    }
  });

  test("an integer past 2^53 and an op code past 32 bits", async () => {
    const huge = new WireWriter().u64(2n ** 60n).take();
    for (const [, reader] of chunkings(huge)) {
      expect((await failure(() => reader().u64("the size"))).message).toContain("too large for the size");
      expect((await failure(() => reader().u32("an operation code"))).message).toContain("too large for an operation code");
    }
  });

  test("a truncated string", async () => {
    const bytes = new WireWriter().latin1("abcdefgh").take().subarray(0, 12);
    for (const [, reader] of chunkings(bytes)) {
      await expect(reader().latin1("the path")).rejects.toThrow("unexpected end-of-file at byte 12");
    }
  });
});
