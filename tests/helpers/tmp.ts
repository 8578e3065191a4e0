/**
 * Scratch directories for tests, removed when the test process exits (not per
 * file: the differential corpus is shared by several test files).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const created: string[] = [];

process.on("exit", () => {
  if (process.env.BUNIX_KEEP_TMP) return;
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

export function scratchDir(label: string): string {
  const dir = mkdtempSync(join(process.env.BUNIX_TEST_TMP ?? tmpdir(), `bunix-${label}-`));
  created.push(dir);
  return dir;
}
