/** Reading files and descriptors as chunks from one reused buffer (flat memory). */
import { closeSync, openSync, readSync } from "node:fs";
import { waitForFd } from "../../ffi/libc.ts";
import { SystemError } from "../errors.ts";

export const READ_CHUNK_SIZE = 1 << 20;

/** Chunks of a file descriptor, read with blocking reads; each valid until the next. */
export function* fdChunks(fd: number, chunkSize = READ_CHUNK_SIZE): Generator<Uint8Array> {
  const buffer = new Uint8Array(chunkSize);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buffer, 0, buffer.length, null);
    } catch (error) {
      // A pipe shared with a process that made it non-blocking: wait for data.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      waitForFd(fd, "read");
      continue;
    }
    if (n === 0) return;
    yield buffer.subarray(0, n);
  }
}

/** The contents of the file at `path`; it is closed at the end. */
export function* fdChunksOfFile(path: string): Generator<Uint8Array> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new SystemError(`opening file '${path}'`, error);
  }
  try {
    try {
      yield* fdChunks(fd);
    } catch (error) {
      throw new SystemError(`reading file '${path}'`, error);
    }
  } finally {
    closeSync(fd);
  }
}
