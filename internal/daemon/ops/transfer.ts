/** (stub: filled in by its owner) */
import type { OpHandler } from "../connection.ts";

export const transferOps = {} satisfies Partial<Record<string, OpHandler>>;
