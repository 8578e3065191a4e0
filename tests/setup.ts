/**
 * Preloaded by `bun test` (bunfig.toml): removes every scratch directory the
 * tests made, once all test files have run. (`process.on("exit")` does not
 * fire under bun test, and a per-file afterAll would delete the corpus that
 * several files share.)
 */
import { afterAll } from "bun:test";
import { removeScratchDirs } from "./helpers/tmp.ts";

afterAll(() => {
  if (!process.env.BUNIX_KEEP_TMP) removeScratchDirs();
});
