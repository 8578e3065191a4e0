/**
 * `bunix store`: the local store. Each concern registers its subcommands
 * from its own module; this file only assembles them.
 */
import type { CAC } from "cac";
import { commandGroup, runCac } from "../cli.ts";
import { registerAdd } from "./add.ts";
import { registerDelete } from "./delete.ts";
import { registerPathInfo } from "./path-info.ts";
import { registerQuery } from "./query.ts";
import { registerTransfer } from "./transfer.ts";
import { registerVerify } from "./verify.ts";
import { registerDb } from "./db.ts";

export function storeCli(): CAC {
  const cli = commandGroup("bunix store");
  registerAdd(cli);
  registerDelete(cli);
  registerPathInfo(cli);
  registerQuery(cli);
  registerTransfer(cli);
  registerVerify(cli);
  registerDb(cli);
  return cli;
}

export const run = (argv: readonly string[]) => runCac(storeCli(), argv);
