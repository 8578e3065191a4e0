/**
 * Registering valid paths (store-layout.md 3.5, registerValidPaths): in one
 * transaction, insert or update each path, record `.drv` outputs, add the
 * references (each must be valid or in the same batch), check that every
 * `.drv` has the output paths its contents give, and refuse reference cycles.
 */
import { readFileSync } from "node:fs";
import { parseDerivation } from "../derivation/aterm-parse.ts";
import { checkOutputPaths } from "../derivation/output-paths.ts";
import type { Derivation } from "../derivation/types.ts";
import { classifyOutput } from "../derivation/output-kind.ts";
import { makeFixedOutputPath } from "../store-path/make.ts";
import type { StorePath } from "../store-path/store-path.ts";
import { StoreError } from "./errors.ts";
import type { LocalStore } from "./local-store.ts";
import { type PathInfo, hashColumn } from "./path-info.ts";
import { storeDerivationContext } from "./derivation-files.ts";

function readStoreDerivation(store: LocalStore, path: StorePath): Derivation {
  try {
    return parseDerivation(readFileSync(store.realPath(path)));
  } catch (error) {
    throw new StoreError(`error parsing derivation '${store.print(path)}': ${(error as Error).message}`, { cause: error });
  }
}

/** Output paths known without building: input-addressed ones as written, fixed ones computed. */
function knownOutputs(store: LocalStore, drv: Derivation, drvPath: StorePath): Array<[string, string]> {
  const known: Array<[string, string]> = [];
  for (const [name, output] of drv.outputs) {
    const kind = classifyOutput(name, output, store.storeDir);
    if (kind.kind === "input-addressed") known.push([name, output.path]);
    else if (kind.kind === "fixed") known.push([name, store.print(makeFixedOutputPath(kind.method, kind.hash, drvPath.derivationName, store.storeDir))]);
  }
  return known;
}

/** Throws if the references among `infos` (other than self references) form a cycle. */
function checkAcyclic(store: LocalStore, infos: readonly PathInfo[]): void {
  const byName = new Map(infos.map((i) => [i.path.baseName, i]));
  const state = new Map<string, "visiting" | "done">();
  const visit = (info: PathInfo, parent: PathInfo | undefined): void => {
    const key = info.path.baseName;
    const s = state.get(key);
    if (s === "done") return;
    if (s === "visiting") {
      throw new StoreError(`cycle detected in the references of '${store.print(info.path)}' from '${store.print(parent!.path)}'`);
    }
    state.set(key, "visiting");
    for (const ref of info.references) {
      const target = byName.get(ref.baseName);
      if (target && target !== info) visit(target, info);
    }
    state.set(key, "done");
  };
  for (const info of infos) visit(info, undefined);
}

export function registerValidPaths(store: LocalStore, infos: readonly PathInfo[]): void {
  if (infos.length === 0) return;
  for (const info of infos) {
    if (info.narHash.algorithm !== "sha256") throw new StoreError(`cannot register '${store.print(info.path)}': its NAR hash must be sha256`);
  }
  checkAcyclic(store, infos);
  const derivations = new Map<string, Derivation>();
  for (const info of infos) if (info.path.isDerivation()) derivations.set(info.path.baseName, readStoreDerivation(store, info.path));
  const context = storeDerivationContext(store.location);
  const now = Math.floor(Date.now() / 1000);
  const db = store.db;

  db.transaction(() => {
    const ids = new Map<string, number>();
    for (const info of infos) {
      const path = store.print(info.path);
      const existing = store.idOf(info.path);
      const narSize = info.narSize === 0 ? null : info.narSize;
      const ultimate = info.ultimate ? 1 : null;
      const sigs = info.signatures.length > 0 ? info.signatures.join(" ") : null;
      if (existing !== undefined) {
        db.run("update ValidPaths set narSize = ?, hash = ?, ultimate = ?, sigs = ?, ca = ? where id = ?", narSize, hashColumn(info.narHash), ultimate, sigs, info.ca ?? null, existing);
        ids.set(info.path.baseName, existing);
        continue;
      }
      const { lastInsertRowid } = db.run(
        "insert into ValidPaths (path, hash, registrationTime, deriver, narSize, ultimate, sigs, ca) values (?, ?, ?, ?, ?, ?, ?, ?)",
        path,
        hashColumn(info.narHash),
        info.registrationTime === 0 ? now : info.registrationTime,
        info.deriver ? store.print(info.deriver) : null,
        narSize,
        ultimate,
        sigs,
        info.ca ?? null,
      );
      ids.set(info.path.baseName, lastInsertRowid);
      const drv = derivations.get(info.path.baseName);
      if (drv) {
        for (const [name, outputPath] of knownOutputs(store, drv, info.path)) {
          db.run("insert or replace into DerivationOutputs (drv, id, path) values (?, ?, ?)", lastInsertRowid, name, outputPath);
        }
      }
    }
    for (const info of infos) {
      const referrer = ids.get(info.path.baseName)!;
      for (const ref of info.references) {
        const reference = ids.get(ref.baseName) ?? store.idOf(ref);
        if (reference === undefined) {
          throw new StoreError(`cannot add path '${store.print(info.path)}' because it references path '${store.print(ref)}', which is not valid`);
        }
        db.run("insert or replace into Refs (referrer, reference) values (?, ?)", referrer, reference);
      }
    }
    for (const info of infos) {
      const drv = derivations.get(info.path.baseName);
      if (drv) checkOutputPaths(drv, info.path.derivationName, store.print(info.path), context);
    }
  });
}
