/**
 * Registering a validity registration text (formats.md 5.2):
 *
 * - `--load-db`: the text has hash lines; every block is (re)registered as
 *   written, without looking at the objects on disk (except `.drv` files,
 *   read to record their outputs).
 * - `--register-validity`: each object is canonicalised on disk and, unless
 *   `hashGiven`, hashed; already-valid paths are skipped unless `reregister`.
 *
 * Either way everything is registered in one transaction: bad input, a
 * missing object or a reference to an unknown path registers nothing. A path
 * given twice takes its last block, as in Nix.
 */
import { hashPath } from "../nar/hash-path.ts";
import { compareStorePaths } from "../store-path/store-path.ts";
import { canonicaliseTree } from "./canonicalise.ts";
import { type RegistrationEntry, RegistrationTextError, parseRegistrationText } from "./dump-db.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";
import { registerValidPaths } from "./registration.ts";

export interface RegisterValidityOptions {
  /** Register paths that are already valid again. */
  reregister: boolean;
  /** The text has hash and size lines (else they are computed from disk). */
  hashGiven: boolean;
  /** Canonicalise the objects on disk first (not for --load-db). */
  canonicalise: boolean;
  /** Strip case-hack suffixes when hashing (use-case-hack). */
  caseHack?: boolean;
}

/** The last block of each path, in path order (Nix keeps them in a sorted map). */
function lastBlocks(entries: readonly RegistrationEntry[]): RegistrationEntry[] {
  const byPath = new Map<string, RegistrationEntry>();
  for (const entry of entries) byPath.set(entry.path.baseName, entry);
  return [...byPath.values()].sort((a, b) => compareStorePaths(a.path, b.path));
}

/** Names the first reference that is neither valid nor registered in the same batch, with its line. */
function checkReferences(store: LocalStore, entries: readonly RegistrationEntry[]): void {
  const batch = new Set(entries.map((e) => e.path.baseName));
  for (const entry of entries) {
    for (const ref of entry.references) {
      if (!batch.has(ref.baseName) && !store.isValid(ref)) {
        throw new RegistrationTextError(entry.line, `'${store.print(entry.path)}' refers to '${store.print(ref)}', which is neither valid nor registered by this input`);
      }
    }
  }
}

/** Registers the blocks of `text`; returns what was registered, in path order. */
export function registerValidity(store: LocalStore, text: string, options: RegisterValidityOptions): PathInfo[] {
  const entries = lastBlocks(parseRegistrationText(store, text, options.hashGiven)).filter((e) => options.reregister || !store.isValid(e.path));
  checkReferences(store, entries);
  const caseHack = options.caseHack ?? store.settings.bool("use-case-hack");
  const infos = entries.map((entry): PathInfo => {
    const real = store.realPath(entry.path);
    if (options.canonicalise) canonicaliseTree(real);
    let narHash = entry.narHash;
    let narSize = entry.narSize;
    if (narHash === undefined || narSize === undefined) ({ hash: narHash, narSize } = hashPath(real, "sha256", { caseHack }));
    const references = [...new Map(entry.references.map((r) => [r.baseName, r])).values()].sort(compareStorePaths);
    return { path: entry.path, narHash, narSize, references, deriver: entry.deriver, registrationTime: 0, ultimate: false, signatures: [], ca: undefined };
  });
  registerValidPaths(store, infos);
  return infos;
}

/** `--load-db`: (re)registers every block of a `--dump-db` text. */
export function loadDb(store: LocalStore, text: string): PathInfo[] {
  return registerValidity(store, text, { reregister: true, hashGiven: true, canonicalise: false });
}
