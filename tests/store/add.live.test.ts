// Paths added by bunix are what real Nix 2.8 would have made: the same store
// paths, path-info (narHash, narSize, references, ca, deriver) and database
// rows, and they pass real `nix-store --verify --check-contents`. Real Nix and
// bunix then add to each other's stores.
import { beforeAll, expect, test } from "bun:test";
import { lstatSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getCorpus } from "../helpers/corpus.ts";
import { bunixBinary, nixEnv, requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

const NIX = ["nix", "--extra-experimental-features", "nix-command"];
let bunix: string;
let dir: string;
let trees: string[];
let files: string[];

beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
  dir = scratchDir("add-live");
  const corpus = getCorpus();
  trees = corpus.trees.slice(0, 80);
  files = [...corpus.trees, ...corpus.bigTrees].filter((t) => lstatSync(t).isFile()).slice(0, 20);
});

/** path-info JSON without registrationTime (which differs between two stores). */
function pathInfo(store: string, paths: string[]): unknown[] {
  const infos = JSON.parse(runOk([...NIX, "path-info", "--store", store, "--json", ...paths]).toString()) as Array<Record<string, unknown>>;
  return infos.map(({ registrationTime: _, ...rest }) => rest);
}

test("trees, flat files of every algorithm and text files added by bunix equal Nix's", () => {
  const ours = join(dir, "ours");
  const theirs = join(dir, "theirs");
  const add = (tool: string[], root: string, args: string[]) => runOk([...tool, "--store", root, ...args], { env: nixEnv() }).toString().trim().split("\n");
  const bunixStore = [bunix, "nix-store"];
  const paths = [
    ...add(bunixStore, ours, ["--add", ...trees]),
    ...["md5", "sha1", "sha256", "sha512"].flatMap((a) => add(bunixStore, ours, ["--add-fixed", a, ...files])),
    ...["md5", "sha1", "sha512"].flatMap((a) => add(bunixStore, ours, ["--add-fixed", "--recursive", a, ...trees.slice(0, 10)])),
  ];
  const nixPaths = [
    ...add(["nix-store"], theirs, ["--add", ...trees]),
    ...["md5", "sha1", "sha256", "sha512"].flatMap((a) => add(["nix-store"], theirs, ["--add-fixed", a, ...files])),
    ...["md5", "sha1", "sha512"].flatMap((a) => add(["nix-store"], theirs, ["--add-fixed", "--recursive", a, ...trees.slice(0, 10)])),
  ];
  expect(paths).toEqual(nixPaths);
  const unique = [...new Set(paths)];
  expect(pathInfo(ours, unique)).toEqual(pathInfo(theirs, unique));
  runOk(["nix-store", "--store", ours, "--verify", "--check-contents"]);
});

test("a text path with references scanned from its contents", () => {
  const root = join(dir, "text");
  const dep = runOk([bunix, "store", "add", "--store", root, trees[0]!], { env: nixEnv() }).toString().trim();
  const other = runOk([bunix, "store", "add", "--store", root, trees[1]!], { env: nixEnv() }).toString().trim();
  const file = join(dir, "script.sh");
  writeFileSync(file, `#!/bin/sh\nexec ${dep}/bin/thing "$@"\n`);
  const text = runOk([bunix, "store", "add-text", "--store", root, "script.sh", file], { env: nixEnv() }).toString().trim();
  const [info] = pathInfo(root, [text]) as Array<{ references: string[]; ca: string }>;
  expect(info!.references).toEqual([dep]);
  expect(info!.references).not.toContain(other);
  expect(info!.ca).toStartWith("text:sha256:");
  // Real Nix makes the same path for the same text and reference (builtins.toFile with context).
  const expr = `builtins.toFile "script.sh" "#!/bin/sh\\nexec \${builtins.storePath "${dep}"}/bin/thing \\"$@\\"\\n"`;
  const nixPath = runOk(["nix-instantiate", "--store", root, "--eval", "--read-write-mode", "-E", expr]).toString().trim();
  expect(nixPath).toBe(JSON.stringify(text));
  runOk(["nix-store", "--store", root, "--verify", "--check-contents"]);
});

test("bunix and real Nix add to the same store, in both orders, without conflict", () => {
  const root = join(dir, "shared");
  const first = runOk(["nix-store", "--store", root, "--add", ...trees.slice(0, 20)]).toString();
  expect(runOk([bunix, "nix-store", "--store", root, "--add", ...trees.slice(0, 40)], { env: nixEnv() }).toString()).toStartWith(first);
  const again = runOk(["nix-store", "--store", root, "--add", ...trees.slice(0, 60)]).toString();
  expect(again.trim().split("\n").length).toBe(60);
  runOk(["nix-store", "--store", root, "--verify", "--check-contents"]);
  expect(runOk([bunix, "store", "path-info", "--store", root, "--json", ...again.trim().split("\n")], { env: nixEnv() }).toString()).toBe(
    runOk([...NIX, "path-info", "--store", root, "--json", ...again.trim().split("\n")]).toString(),
  );
});
