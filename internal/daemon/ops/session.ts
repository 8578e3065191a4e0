/** Connection-level requests: SetOptions (worker-protocol.md 6.5). */
import type { OpHandler } from "../connection.ts";
import { applyClientOptions, readClientOptions } from "../options.ts";

const setOptions: OpHandler = async (c) => {
  const options = await readClientOptions(c.reader, c.minor);
  await c.work(() => applyClientOptions(c.settings, options, c.trusted, c.logger));
};

export const sessionOps = {
  SetOptions: setOptions,
} satisfies Partial<Record<string, OpHandler>>;
