/**
 * `bunix store`: the local store. Each concern registers its subcommands
 * from its own module; this file only assembles them.
 */
import type { CAC } from "cac";
import { commandGroup, runCac } from "../cli.ts";
import { registerAdd } from "./add.ts";
import { registerDelete } from "./delete.ts";
import { registerLog } from "./log.ts";
import { registerPathInfo } from "./path-info.ts";
import { registerQuery } from "./query.ts";
import { registerTransfer } from "./transfer.ts";
import { registerVerify } from "./verify.ts";
import { registerDb } from "./db.ts";
import { registerOptimise } from "./optimise.ts";

export function storeCli(): CAC {
  const cli = commandGroup("bunix store");
  registerAdd(cli);
  registerDelete(cli);
  registerLog(cli);
  registerPathInfo(cli);
  registerQuery(cli);
  registerTransfer(cli);
  registerVerify(cli);
  registerDb(cli);
  registerOptimise(cli);
  return cli;
}

export const run = (argv: readonly string[]) => runCac(storeCli(), argv);
