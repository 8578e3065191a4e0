// The pre-build hook (settings.md 4.2): run as `<hook> <drv> <sandbox root>`
// before a sandboxed build; `extra-sandbox-paths` blocks in its output add
// paths to the sandbox, anything else fails the build. As in Nix, the
// sandbox root is prepared when the hook runs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, requireNix } from "../helpers/nix.ts";
import { SANDBOX_NIX, type TestStore, bunixBuild, buildOk, chrootStore, discard, instantiate, leftovers } from "./support.ts";

let store: TestStore;
let drv: string;

function hook(name: string, output: string): string {
  const file = join(store.dir, name);
  // The hook records its arguments, leaves a file in the sandbox root (which exists by then), then answers.
  const script = [
    "#!/bin/sh",
    `printf '%s\\n' "$@" > "${file}.args"`,
    `echo "left by the hook" > "$2/from-hook"`,
    `printf '${output.replaceAll("\n", "\\n")}'`,
  ];
  writeFileSync(file, `${script.join("\n")}\n`);
  chmodSync(file, 0o755);
  return file;
}

beforeAll(() => {
  requireNix();
  bunixBinary();
  store = chrootStore("sandbox-hook");
  drv = instantiate(store, SANDBOX_NIX, ["hooked"])[0]!;
});

afterAll(() => discard(store));

test("extra-sandbox-paths from the hook are visible to the builder", async () => {
  const file = join(store.dir, "extra-file");
  writeFileSync(file, "from the host, through the hook\n");
  const dir = join(store.dir, "extra-dir");
  mkdirSync(dir);
  writeFileSync(join(dir, "inside"), "a directory too\n");
  const script = hook("hook-good", `extra-sandbox-paths\n/extra=${file}\n\nextra-chroot-dirs\n/extra-dir=${dir}\n\n`);
  const [out] = await buildOk(store, ["--option", "pre-build-hook", script, drv]);
  const seen = (name: string) => readFileSync(join(store.real(out!), name), "utf8");
  expect(seen("file")).toBe("from the host, through the hook\n");
  expect(seen("dir")).toBe("inside\n");
  expect(seen("inside")).toBe("a directory too\n");
  expect(seen("from-hook")).toBe("left by the hook\n");
  expect(readFileSync(`${script}.args`, "utf8")).toBe(`${drv}\n${store.realStoreDir}/${drv.slice("/nix/store/".length)}.chroot\n`);
});

test("a hook printing anything else fails the build", async () => {
  const script = hook("hook-bad", "garbage\n");
  const result = await bunixBuild(store, ["--check", "--option", "pre-build-hook", script, drv]);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain("unknown pre-build hook command 'garbage'");
  expect(leftovers(store.realStoreDir, /\.chroot/)).toEqual([]);
  expect(leftovers(store.tmp, /^nix-build-/)).toEqual([]);
});

test("without a hook the extra paths are not there", async () => {
  const result = await bunixBuild(store, ["--check", drv]);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain("can't open '/extra': No such file or directory");
});
