// A store on a read-only bind mount: bunix makes it writable in a private
// mount namespace of its own (as Nix does), so adding works while the mount
// stays read-only for everyone else. Runs inside `unshare -m` so that the
// test's own mounts never touch the host.
import { beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, nixEnv, requireNix, run, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

let bunix: string;
beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
});

test("adding to a read-only bind-mounted store works and leaves the mount read-only", () => {
  const dir = scratchDir("ro-store");
  const store = join(dir, "root");
  const file = join(dir, "hello.txt");
  writeFileSync(file, "hello\n");
  runOk([bunix, "store", "init", "--store", store], { env: nixEnv() });
  const real = join(store, "nix/store");
  const script = `
    set -e
    mount --bind '${real}' '${real}'
    mount -o remount,bind,ro '${real}'
    if touch '${real}/probe' 2>/dev/null; then echo "mount is writable"; exit 3; fi
    '${bunix}' store add --store '${store}' '${file}'
    if touch '${real}/probe' 2>/dev/null; then echo "mount became writable"; exit 4; fi
    nix-store --store '${store}' --verify --check-contents
  `;
  const result = run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], { env: nixEnv() });
  expect({ code: result.code, stderr: result.code === 0 ? "" : result.stderr }).toEqual({ code: 0, stderr: "" });
  expect(result.stdout.toString().trim()).toBe(runOk([bunix, "store", "add", "--dry-run", file]).toString().trim());
});
