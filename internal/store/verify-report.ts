/**
 * What `verify` finds: one problem per finding, with the store path it
 * concerns, the file on disk when it is about one entry, a message worded as
 * Nix 2.8 words it where Nix reports the same thing, whether it was repaired,
 * and why not. Progress events let a front end show where a long check is.
 */
import type { MetadataIssue } from "./canonicalise.ts";

export type VerifyProblemKind =
  /** A valid path is gone and nothing valid refers to it: removed from the database (as Nix does). */
  | "disappeared"
  /** A valid path is gone but valid paths still refer to it. */
  | "missing"
  /** The NAR hash of the object differs from the recorded one. */
  | "modified"
  /** An entry of the object (or a link) could not be read. */
  | "unreadable"
  /** An entry is neither a regular file, a directory nor a symlink. */
  | "unsupported-type"
  /** The recorded NAR size is missing (0) or differs from the object's. */
  | "nar-size"
  /** The recorded NAR hash is all zeros (very old stores): filled in, as Nix does. */
  | "missing-hash"
  /** The database row of the path cannot be read (e.g. a malformed hash). */
  | "bad-record"
  /** Not canonical (formats.md 6.7): permission bits, mtime, owner, extended attributes. */
  | "mode"
  | "mtime"
  | "owner"
  | "xattr"
  /** A `.links` entry whose contents no longer hash to its name. */
  | "link-modified";

export interface VerifyProblem {
  readonly kind: VerifyProblemKind;
  /** The store path concerned (as printed), or the `.links` entry on disk. */
  readonly path: string;
  /** The entry on disk, when the problem is with one file of the object. */
  readonly file?: string;
  /** What is wrong, as a sentence. */
  readonly detail: string;
  readonly repaired: boolean;
  /** Why it was not repaired (set when repair was asked for or is impossible). */
  readonly notRepaired?: string;
  /** Whether Nix 2.8's verify counts it as an error (and exits 1 for it). */
  readonly nixError: boolean;
}

export type VerifyPhase = "reading" | "existence" | "metadata" | "links" | "contents";

export type VerifyEvent =
  | { readonly type: "phase"; readonly phase: VerifyPhase }
  | { readonly type: "progress"; readonly phase: VerifyPhase; readonly done: number; readonly total: number; readonly item: string }
  | { readonly type: "problem"; readonly problem: VerifyProblem }
  /** Something done without a problem being found (Nix prints these as information). */
  | { readonly type: "info"; readonly message: string }
  | { readonly type: "waiting"; readonly message: string };

export interface VerifyReport {
  readonly validPaths: number;
  /** Objects whose contents were hashed. */
  readonly contentsChecked: number;
  /** `.links` entries hashed. */
  readonly linksChecked: number;
  /** Entries whose metadata was checked. */
  readonly entriesChecked: number;
  readonly problems: VerifyProblem[];
}

/** Problems still standing after the run. */
export function unresolved(report: VerifyReport): VerifyProblem[] {
  return report.problems.filter((p) => !p.repaired);
}

/** Why a path with other contents than recorded cannot be repaired here. */
export const CONTENT_REPAIR_UNAVAILABLE =
  "bunix cannot substitute or rebuild store paths yet; restore the object from a backup, or repair it with real Nix (nix-store --repair-path)";

/** A non-canonical entry found by canonicalisePathMetaData, as a problem of `storePath`. */
export function metadataProblem(storePath: string, issue: MetadataIssue, repair: boolean): VerifyProblem {
  const kind: VerifyProblemKind = issue.kind === "io" ? "unreadable" : issue.kind === "type" ? "unsupported-type" : issue.kind === "ownership" ? "owner" : issue.kind;
  if (kind === "unreadable" || kind === "unsupported-type") {
    const detail = issue.kind === "io" ? `${issue.detail}: ${issue.error ?? "failed"}` : issue.detail;
    return { kind, path: storePath, file: issue.file, detail, repaired: false, ...(repair ? { notRepaired: CONTENT_REPAIR_UNAVAILABLE } : {}), nixError: true };
  }
  const detail = `'${issue.file}' is not canonical: ${issue.detail}`;
  return {
    kind,
    path: storePath,
    file: issue.file,
    detail,
    repaired: issue.fixed,
    ...(issue.error ? { notRepaired: issue.error } : {}),
    nixError: false,
  };
}

/** One line for a person: the detail, then what became of it. */
export function describeProblem(problem: VerifyProblem): string {
  if (problem.repaired) return `${problem.detail} (repaired)`;
  return problem.notRepaired ? `${problem.detail} (not repaired: ${problem.notRepaired})` : problem.detail;
}
