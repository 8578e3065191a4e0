/** Blocking writes of whole buffers to a file descriptor (stdout may be a pipe). */
import { writeSync } from "node:fs";
import { waitForFd } from "../../ffi/libc.ts";

export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(fd, bytes, at, bytes.length - at);
    } catch (error) {
      // A non-blocking stdout (set by another process sharing it) asks us to retry.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      waitForFd(fd, "write");
    }
  }
}
