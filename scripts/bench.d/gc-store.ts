/**
 * Stores for the gc suite, generated in seconds: objects are written straight
 * into a chroot store's directory with canonical metadata and registered in
 * one transaction through bunix's library (the database is Nix 2.8's, so
 * real Nix reads it like any other).
 *
 * - collect: `live` paths in a binary tree of references under one gcroots
 *   link, and `dead` paths in a tree of their own whose paths also refer to
 *   live ones; each path is one small file naming its references.
 * - optimise: paths that are directories of files drawn from a small pool of
 *   contents (most files have duplicates), some executable.
 */
import { chmodSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NIX_BASE32_ALPHABET } from "../../internal/hash/base32.ts";
import { derivationBytes } from "../../internal/derivation/aterm-write.ts";
import type { HashModuloContext } from "../../internal/derivation/hash-modulo.ts";
import { derivationPath, withOutputPaths } from "../../internal/derivation/output-paths.ts";
import { type Derivation, makeDerivation } from "../../internal/derivation/types.ts";
import { hashPath } from "../../internal/nar/hash-path.ts";
import { Settings } from "../../internal/settings/settings.ts";
import { resolveStoreLocation } from "../../internal/settings/store-location.ts";
import { StorePath } from "../../internal/store-path/store-path.ts";
import { LocalStore } from "../../internal/store/local-store.ts";
import type { PathInfo } from "../../internal/store/path-info.ts";
import { registerValidPaths } from "../../internal/store/registration.ts";
import { Rng, randomBytes } from "./random.ts";

/** Dependencies of a package besides its two children in the tree. */
const EXTRA_DEPS = 3;

function openStore(root: string): LocalStore {
  const settings = new Settings();
  settings.set("build-users-group", "");
  return LocalStore.open(resolveStoreLocation({ store: root, env: {} }), settings, { mode: "write" });
}

function randomPath(rng: Rng, name: string): StorePath {
  let hash = "";
  for (let i = 0; i < 32; i++) hash += NIX_BASE32_ALPHABET[rng.int(32)];
  return new StorePath(hash, name);
}

function canonical(path: string, mode: number): void {
  chmodSync(path, mode);
  utimesSync(path, 1, 1);
}

function info(path: StorePath, real: string, references: StorePath[]): PathInfo {
  const { hash, narSize } = hashPath(real, "sha256", { bufferSize: 64 << 10 });
  return { path, narHash: hash, narSize, references, deriver: undefined, registrationTime: 0, ultimate: false, signatures: [], ca: undefined };
}

export interface CollectStore {
  live: number;
  dead: number;
}

/**
 * A store of `packages` built packages as nix-build leaves them: each is a
 * `.drv` (referring to the `.drv`s of its dependencies) and its output
 * (referring to its dependencies' outputs, with the `.drv` as deriver). The
 * first `live` packages form a tree under one gcroots link (their `.drv`s are
 * kept by keep-derivations); the others form a tree of their own whose
 * packages also depend on a live one. 2 * packages paths in all.
 */
export function makeCollectStore(root: string, packages: number, live: number, seed: number): CollectStore {
  const rng = new Rng(seed);
  const store = openStore(root);
  try {
    const storeDir = store.storeDir;
    const drvs = new Map<string, Derivation>();
    const context: HashModuloContext = { storeDir, load: (path) => drvs.get(path)!, cache: new Map() };
    const drvPaths: string[] = [];
    const outPaths: string[] = [];
    const infos: PathInfo[] = [];
    // Dependencies come first (higher indices), so build from the last package down.
    const depsOf = (i: number): number[] => {
      const [first, count] = i < live ? [0, live] : [live, packages - live];
      const local = i - first;
      const deps = new Set([2 * local + 1, 2 * local + 2].filter((c) => c < count).map((c) => c + first));
      // A few more dependencies further down the same tree, as real packages have.
      for (let k = 0; k < EXTRA_DEPS && local + 1 < count; k++) deps.add(first + local + 1 + rng.int(count - local - 1));
      if (i >= live && live > 0) deps.add(rng.int(live));
      return [...deps];
    };
    const deps: number[][] = Array.from({ length: packages }, (_, i) => depsOf(i));
    const order = [...Array(packages).keys()].sort((a, b) => (a < live) === (b < live) ? b - a : a < live ? -1 : 1);
    for (const i of order) {
      const name = `${i < live ? "live" : "dead"}-${i}`;
      const inputs = deps[i]!;
      const drv = withOutputPaths(
        makeDerivation({
          outputs: [["out", { path: "", hashAlgo: "", hash: "" }]],
          inputDrvs: inputs.map((d) => [drvPaths[d]!, ["out"]]),
          platform: "x86_64-linux",
          builder: "/bin/sh",
          args: ["-c", "echo built > $out"],
          env: [["name", name], ["out", ""], ["builder", "/bin/sh"], ["system", "x86_64-linux"]],
        }),
        name,
        context,
      );
      const drvPath = derivationPath(drv, name, storeDir);
      const drvFull = drvPath.in(storeDir);
      drvs.set(drvFull, drv);
      drvPaths[i] = drvFull;
      const out = store.parse(drv.outputs.get("out")!.path);
      outPaths[i] = store.print(out);
      const drvReal = store.realPath(drvPath);
      writeFileSync(drvReal, derivationBytes(drv));
      canonical(drvReal, 0o444);
      infos.push(info(drvPath, drvReal, inputs.map((d) => store.parse(drvPaths[d]!))));
      const outReal = store.realPath(out);
      writeFileSync(outReal, `${name}\n${inputs.map((d) => `${outPaths[d]}\n`).join("")}`);
      canonical(outReal, 0o444);
      infos.push({ ...info(out, outReal, inputs.map((d) => store.parse(outPaths[d]!))), deriver: drvPath });
    }
    registerValidPaths(store, infos);
    if (live > 0) symlinkSync(outPaths[0]!, join(store.stateDir, "gcroots", "bench-root"));
    return { live: 2 * live, dead: 2 * (packages - live) };
  } finally {
    store.close();
  }
}

export interface OptimiseStore {
  paths: number;
  files: number;
  bytes: number;
}

/** `paths` directories of `filesPerPath` files each, contents from a pool of `distinct` blobs. */
export function makeOptimiseStore(root: string, paths: number, filesPerPath: number, distinct: number, seed: number): OptimiseStore {
  const rng = new Rng(seed);
  const pool = Array.from({ length: distinct }, () => randomBytes(rng, rng.int(8192)));
  const store = openStore(root);
  let bytes = 0;
  try {
    const infos: PathInfo[] = [];
    for (let p = 0; p < paths; p++) {
      const path = randomPath(rng, `optimise-bench-${p}`);
      const real = store.realPath(path);
      const dirs: string[] = [];
      for (let f = 0; f < filesPerPath; f++) {
        const dir = join(real, `d${f % 5}`);
        if (f < 5) {
          mkdirSync(dir, { recursive: true });
          dirs.push(dir);
        }
        const file = join(dir, `f${f}`);
        const blob = pool[rng.int(distinct)]!;
        writeFileSync(file, blob);
        bytes += blob.length;
        canonical(file, rng.chance(0.1) ? 0o555 : 0o444);
      }
      for (const dir of [...dirs, real]) canonical(dir, 0o555);
      infos.push(info(path, real, []));
    }
    registerValidPaths(store, infos);
    return { paths, files: paths * filesPerPath, bytes };
  } finally {
    store.close();
  }
}
