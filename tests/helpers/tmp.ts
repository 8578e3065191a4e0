/**
 * Scratch directories for tests, removed when the whole run ends (see
 * tests/setup.ts): the differential corpus is shared by several test files.
 */
import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const created: string[] = [];

export function scratchDir(label: string): string {
  const dir = mkdtempSync(join(process.env.BUNIX_TEST_TMP ?? tmpdir(), `bunix-${label}-`));
  created.push(dir);
  return dir;
}

/** Store objects are read-only (0555 directories): make them removable first when needed. */
function forceRemove(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch {
    // fall through
  }
  const walk = (p: string) => {
    let stat;
    try {
      stat = lstatSync(p);
    } catch {
      return;
    }
    if (!stat.isDirectory()) return;
    chmodSync(p, 0o755);
    for (const name of readdirSync(p)) walk(join(p, name));
  };
  walk(path);
  rmSync(path, { recursive: true, force: true });
}

export function removeScratchDirs(): void {
  for (const dir of created.splice(0)) forceRemove(dir);
}
