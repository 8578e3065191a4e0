import { BunixError } from "../errors.ts";

/**
 * A peer sent bytes that do not follow the protocol: a value out of range,
 * bad padding, a string longer than allowed. `offset` is the byte of the
 * incoming stream at fault.
 */
export class WireError extends BunixError {
  override name = "WireError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset} of the incoming stream)`);
  }
}
