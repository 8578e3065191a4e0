/**
 * The three ways a client sends bulk data (worker-protocol.md 2.15, 2.16,
 * 5.5), each as a ByteSource read straight from the socket, and what each
 * needs so that an error never leaves the connection out of step:
 *
 * - framed (AddToStore >= 1.25, AddToStoreNar >= 1.23, AddMultipleToStore,
 *   AddBuildLog): the frames are delimited, so after an error the rest is
 *   drained and the error reported; the connection goes on (8.1);
 * - pulled with STDERR_READ (ImportPaths, AddToStoreNar 1.21-1.22): the
 *   client only sends what is asked for, so stopping is enough;
 * - inline without framing (AddToStoreNar < 1.21, AddToStore < 1.25): only
 *   the NAR's own grammar says where it ends. Before the first byte is read
 *   a failure can still skip the NAR; once reading has started, a failure
 *   before its end leaves no way to find the next request, and the
 *   connection is ended after the error is sent.
 */
import { BunixError } from "../../errors.ts";
import { validateNar } from "../../nar/reader.ts";
import { type ByteSource, ChunkSource, UnexpectedEndError } from "../../stream/byte-source.ts";
import { FramedSource } from "../../wire/framed.ts";
import { Stderr } from "../../wire/worker-protocol.ts";
import { type Connection, ConnectionAbort } from "../connection.ts";

/** What a STDERR_READ asks for, as the 2.8 daemon does. */
export const TUNNEL_REQUEST = 32768;

/** A framed stream that remembers a failure of the framing itself (then it cannot be drained). */
class GuardedFrames extends FramedSource {
  broken: unknown;

  override async next(): Promise<Uint8Array | undefined> {
    if (this.broken !== undefined) throw this.broken;
    try {
      return await super.next();
    } catch (error) {
      this.broken = error;
      throw error;
    }
  }

  /** Skips to the end of the stream; a broken framing or a closed socket ends the connection. */
  async finish(): Promise<void> {
    try {
      await this.drain();
    } catch (error) {
      if (error instanceof UnexpectedEndError) throw error;
      throw new ConnectionAbort((error as Error).message);
    }
  }
}

/** The payload ended before its reader was done: the client's data, not the connection, is at fault. */
export class TruncatedUploadError extends BunixError {
  override name = "TruncatedUploadError";
}

/**
 * Reads a framed upload with `consume`. With `exact`, bytes left after
 * `consume` are an error. Whatever happens, the stream is read to its end
 * before this returns or throws (unless the connection itself is lost).
 */
export async function framedUpload<T>(c: Connection, what: string, consume: (payload: ChunkSource) => Promise<T>, exact = true): Promise<T> {
  const frames = new GuardedFrames(c.reader);
  const payload = new ChunkSource(frames);
  try {
    const result = await consume(payload);
    if (exact && !(await payload.atEnd())) throw new BunixError(`unexpected data after ${what} (at byte ${payload.position} of the framed data)`);
    await frames.finish();
    return result;
  } catch (error) {
    await frames.finish();
    if (error instanceof UnexpectedEndError && frames.finished && frames.broken === undefined) {
      throw new TruncatedUploadError(`${what} is truncated: the framed data ended after ${frames.position} bytes`);
    }
    throw error;
  }
}

/** Data pulled from the client with STDERR_READ (the channel must be open). */
export function tunnelSource(c: Connection): ChunkSource {
  async function* pull(): AsyncGenerator<Uint8Array> {
    for (;;) {
      c.out.writer.u64(Stderr.read).u64(TUNNEL_REQUEST);
      await c.out.send();
      let data: Uint8Array;
      try {
        data = await c.reader.bytes("data sent for STDERR_READ", TUNNEL_REQUEST);
      } catch (error) {
        if (error instanceof UnexpectedEndError) throw error;
        throw new ConnectionAbort((error as Error).message);
      }
      // An empty answer ends the data; Nix reports it this way.
      if (data.length === 0) throw new BunixError("unexpected end-of-file (the client sent no more data)");
      yield data;
    }
  }
  return new ChunkSource(pull());
}

/** Skips a whole NAR sent inline; failing half-way, the connection cannot go on. */
async function skipInlineNar(nar: ByteSource, cause?: unknown): Promise<void> {
  try {
    await validateNar(nar);
  } catch (error) {
    if (error instanceof UnexpectedEndError) throw error;
    throw new ConnectionAbort(((cause ?? error) as Error).message);
  }
}

/**
 * Runs `consume` over a NAR sent inline on the connection. `consume` either
 * reads the NAR, calling `markRead` once its last byte is read, or does not
 * touch it (the NAR is then skipped here). A failure before the first byte
 * is read is reported and the NAR skipped; after `markRead`, reported; in
 * between, the error is sent and the connection ended.
 */
export async function inlineNar<T>(c: Connection, consume: (nar: ByteSource, markRead: () => void) => Promise<T>): Promise<T> {
  const nar = c.reader.source;
  const start = nar.position;
  let read = false;
  try {
    const result = await consume(nar, () => {
      read = true;
    });
    if (nar.position === start) await skipInlineNar(nar);
    return result;
  } catch (error) {
    if (error instanceof UnexpectedEndError || error instanceof ConnectionAbort) throw error;
    if (nar.position === start) await skipInlineNar(nar, error);
    else if (!read) throw new ConnectionAbort((error as Error).message);
    throw error;
  }
}
