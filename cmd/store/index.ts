/**
 * `bunix store`: the local store. Each concern registers its subcommands
 * from its own module; this file only assembles them.
 */
import type { CAC } from "cac";
import { commandGroup, runCac } from "../cli.ts";
import { registerAdd } from "./add.ts";
import { registerPathInfo } from "./path-info.ts";

export function storeCli(): CAC {
  const cli = commandGroup("bunix store");
  registerAdd(cli);
  registerPathInfo(cli);
  return cli;
}

export const run = (argv: readonly string[]) => runCac(storeCli(), argv);
