/**
 * Entry point of the bunix executable. Multi-call: named (or symlinked as)
 * nix-store, nix-hash or nix-daemon, it behaves as that tool.
 */
import { basename } from "node:path";
import { ALIASES, bunix } from "./bunix.ts";
import { reportError } from "./cli.ts";

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const alias = ALIASES[basename(process.argv0)];
  try {
    return alias ? await (await alias())(argv) : await bunix(argv);
  } catch (error) {
    return reportError(error);
  }
}

process.exit(await main());
