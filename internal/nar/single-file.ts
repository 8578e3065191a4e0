/**
 * The NAR of a single regular file is a fixed frame around its contents:
 * hashing a file flat and as a NAR in one pass only needs these two pieces.
 */
import { TOKEN, paddingOf, writeU64 } from "./tokens.ts";

export function regularFileNarPrefix(size: number, executable: boolean): Uint8Array {
  const length = Buffer.alloc(8);
  writeU64(length, 0, size);
  const parts = [TOKEN.magic, TOKEN.open, TOKEN.type, TOKEN.regular];
  if (executable) parts.push(TOKEN.executable, TOKEN.empty);
  parts.push(TOKEN.contents, length);
  return Buffer.concat(parts);
}

export function regularFileNarSuffix(size: number): Uint8Array {
  return Buffer.concat([new Uint8Array(paddingOf(size)), TOKEN.close]);
}

/** Total NAR size of a regular file of `size` bytes. */
export function regularFileNarSize(size: number, executable: boolean): number {
  return regularFileNarPrefix(size, executable).length + size + regularFileNarSuffix(size).length;
}
