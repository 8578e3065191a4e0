// --dry-run and --max-freed: a dry run deletes nothing and reports what a
// collection would free; --max-freed stops right after the limit is exceeded
// (0 does nothing, as in Nix); the reserved space is released by a deleting
// collection.
import { beforeAll, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

let bunix: string;
beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
});

const KIB = 1024;

test("--dry-run, --max-freed and the reserved space", () => {
  const dir = scratchDir("gc-max-freed");
  const root = join(dir, "root");
  const gc = (...flags: string[]) => run([bunix, "gc", "--store", root, ...flags], { env: nixEnv() });
  const paths: string[] = [];
  for (let i = 0; i < 5; i++) {
    writeFileSync(join(dir, `f${i}`), Buffer.alloc(100 * KIB, i));
    paths.push(runOk([bunix, "store", "add", join(dir, `f${i}`), "--store", root], { env: nixEnv() }).toString().trim());
  }
  const reserved = join(root, "nix/var/nix/db/reserved");
  expect(existsSync(reserved)).toBe(true);

  const dry = gc("--dry-run");
  expect(dry.stdout.toString()).toBe("5 store paths would be deleted, 0.49 MiB would be freed\n");
  expect(dry.stderr.split("\n").filter((l) => l.startsWith("would delete '")).length).toBe(5);
  for (const path of paths) expect(existsSync(join(root, path))).toBe(true);

  expect(gc("--max-freed", "0").stdout.toString()).toBe("0 store paths deleted, 0.00 MiB freed\n");
  const limited = gc("--max-freed", "150K");
  expect(limited.stdout.toString()).toBe("2 store paths deleted, 0.20 MiB freed\n");
  expect(paths.filter((p) => existsSync(join(root, p))).length).toBe(3);
  expect(existsSync(reserved)).toBe(false);

  // The nix-store alias takes the same flags and prints the same.
  const rest = run([bunix, "nix-store", "--store", root, "--gc", "--max-freed", "1M"], { env: nixEnv() });
  expect(rest.stdout.toString()).toBe("3 store paths deleted, 0.29 MiB freed\n");
  expect(rest.stderr).toContain("note: currently hard linking saves");
  expect(runOk(["nix-store", "--store", root, "--dump-db"]).toString()).toBe("");
  expect(run([bunix, "nix-store", "--store", root, "--gc", "--print-dead", "extra"], { env: nixEnv() }).stderr).toContain("no arguments expected");
  expect(run([bunix, "nix-store", "--store", root, "--gc", "--bogus"], { env: nixEnv() }).stderr).toContain("bad sub-operation '--bogus' in GC");
});
