// A store created by bunix looks like one created by Nix 2.8: the same files,
// directories, modes and owners, the same SQLite objects and pragmas, and
// the same ValidPaths rows for the same additions.
import { Database } from "bun:sqlite";
import { beforeAll, expect, test } from "bun:test";
import { readFileSync, readdirSync, lstatSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { bunixBinary, nixEnv, requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

let bunix: string;
let dir: string;
let nixRoot: string;
let ourRoot: string;

beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
  dir = scratchDir("layout");
  nixRoot = join(dir, "nix");
  ourRoot = join(dir, "bunix");
  const group = ["--option", "build-users-group", "nogroup"];
  runOk(["nix-store", "--store", nixRoot, ...group, "--init"]);
  runOk([bunix, "store", "init", "--store", ourRoot, ...group], { env: nixEnv() });
});

function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const st = lstatSync(path);
    const type = st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : "f";
    out.push(`${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${relative(root, path) || "."}`);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(root);
  return out.sort();
}

test("the same directories and files, with the same modes and owners (store dir root:nixbld-group 1775)", () => {
  expect(listing(ourRoot)).toEqual(listing(nixRoot));
  expect(listing(ourRoot)).toContain(`d 1775 0:65534 nix/store`);
  expect(readFileSync(join(ourRoot, "nix/var/nix/db/schema"), "utf8")).toBe("10");
  expect(lstatSync(join(ourRoot, "nix/var/nix/db/reserved")).size).toBe(8 * 1024 * 1024);
});

test("the same SQLite objects, journal mode and page size", () => {
  const describe = (root: string) => {
    const db = new Database(join(root, "nix/var/nix/db/db.sqlite"), { readonly: true });
    try {
      return {
        objects: db.query("select type, name, tbl_name from sqlite_master order by rowid").all(),
        columns: db.query("select name, type, \"notnull\", pk from pragma_table_info('ValidPaths')").all(),
        journal: db.query("pragma journal_mode").get(),
        pageSize: db.query("pragma page_size").get(),
        userVersion: db.query("pragma user_version").get(),
      };
    } finally {
      db.close();
    }
  };
  expect(describe(ourRoot)).toEqual(describe(nixRoot));
});

test("the same ValidPaths rows for the same additions", () => {
  const file = join(dir, "hello.txt");
  writeFileSync(file, "hello\n");
  const tree = join(dir, "tree");
  runOk(["mkdir", "-p", join(tree, "sub")]);
  writeFileSync(join(tree, "sub", "x"), "x");
  for (const [root, tool] of [[nixRoot, ["nix-store"]], [ourRoot, [bunix, "nix-store"]]] as const) {
    runOk([...tool, "--store", root, "--add", file, tree], { env: nixEnv() });
    runOk([...tool, "--store", root, "--add-fixed", "md5", file], { env: nixEnv() });
  }
  const rows = (root: string) => {
    const db = new Database(join(root, "nix/var/nix/db/db.sqlite"), { readonly: true });
    try {
      return db.query("select path, hash, deriver, narSize, ultimate, sigs, ca from ValidPaths order by path").all();
    } finally {
      db.close();
    }
  };
  expect(rows(ourRoot)).toEqual(rows(nixRoot));
  expect(rows(ourRoot).length).toBe(3);
});
