/** The `nix-daemon` alias: the worker-protocol daemon is not part of this release. */
import { BunixError } from "../../internal/errors.ts";
import { NIX_VERSION, out, reportError } from "../cli.ts";

export function nixDaemon(argv: readonly string[]): number {
  if (argv.includes("--version")) {
    out(`nix-daemon (bunix) ${NIX_VERSION}\n`);
    return 0;
  }
  return reportError(new BunixError("bunix cannot serve as nix-daemon yet (the worker protocol is not implemented in this release)"));
}
