/** The operation table: code -> name and implementation. */
import { Op, type OpName } from "../../wire/worker-protocol.ts";
import type { OpHandler, OpTable } from "../connection.ts";
import { addOps } from "./add.ts";
import { buildOps } from "./build.ts";
import { gcOps } from "./gc.ts";
import { queryOps } from "./queries.ts";
import { rootOps } from "./roots.ts";
import { sessionOps } from "./session.ts";
import { transferOps } from "./transfer.ts";

export function operations(): OpTable {
  const handlers: Partial<Record<OpName, OpHandler>> = { ...queryOps, ...sessionOps, ...addOps, ...transferOps, ...buildOps, ...rootOps, ...gcOps };
  const table = new Map<number, { name: string; run: OpHandler }>();
  for (const [name, run] of Object.entries(handlers)) table.set(Op[name as OpName], { name, run: run! });
  return table;
}
