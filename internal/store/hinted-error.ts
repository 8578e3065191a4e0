/**
 * Store errors worded and highlighted as Nix's: Nix renders the arguments of
 * a message in bold magenta (ESC[35;1m ... ESC[0m). Daemon clients get that
 * `styled` form, as nix-daemon sends it; bunix's own commands print the
 * plain message.
 */
import { StoreError } from "./errors.ts";

const HIGHLIGHT = "\x1b[35;1m";
const NORMAL = "\x1b[0m";

export class HintedStoreError extends StoreError {
  override name = "HintedStoreError";
  constructor(
    message: string,
    /** The message with Nix's highlighting. */
    readonly styled: string,
  ) {
    super(message);
  }
}

/** storeError`hash mismatch importing path '${path}'`: every argument highlighted in the styled form. */
export function storeError(strings: TemplateStringsArray, ...args: unknown[]): HintedStoreError {
  let plain = strings[0]!;
  let styled = strings[0]!;
  args.forEach((arg, i) => {
    plain += `${String(arg)}${strings[i + 1]!}`;
    styled += `${HIGHLIGHT}${String(arg)}${NORMAL}${strings[i + 1]!}`;
  });
  return new HintedStoreError(plain, styled);
}
