/**
 * Canonical metadata of store objects (formats.md 6.7), applied to every
 * object entering the store and checked by `verify`. Walking the tree without
 * following symlinks, every entry must be a regular file, directory or
 * symlink, and gets:
 *
 * - no extended attributes except those named in `ignored-acls`;
 * - permission bits 0444, or 0555 when owner-executable or a directory
 *   (symlinks untouched);
 * - mtime 1 (1970-01-01T00:00:01Z; atime kept, truncated to seconds);
 * - the store owner (default: our effective uid/gid), when owned by another uid.
 *
 * With `expectedUid` (build outputs built by a build user), an entry owned by
 * anyone else is an error, unless it is a non-directory whose inode was
 * already canonicalised (a hard link within the build's outputs).
 *
 * The result lists every change (or, with `checkOnly`, every change that
 * would be made), so callers can report them.
 */
import { chmodSync, lchownSync, lstatSync, lutimesSync, readdirSync, type Stats } from "node:fs";
import { llistxattr, lremovexattr } from "../../ffi/libc.ts";
import { BunixError, SystemError, describeSystemError } from "../errors.ts";
import { CANONICAL_MTIME } from "../nar/restore.ts";

export type MetadataIssueKind = "type" | "xattr" | "mode" | "mtime" | "owner" | "ownership" | "io";

export interface MetadataIssue {
  readonly kind: MetadataIssueKind;
  /** The entry on disk. */
  readonly file: string;
  /** What was found and what it should be. */
  readonly detail: string;
  /** Whether the entry was changed (never with `checkOnly`). */
  readonly fixed: boolean;
  /** Why it could not be (or was not) changed. */
  readonly error?: string;
}

export interface CanonicaliseOptions {
  /** Only look: report what is not canonical, change nothing. */
  checkOnly?: boolean;
  /** Extended attributes to keep (the `ignored-acls` setting); default: Nix's default. */
  ignoredXattrs?: Iterable<string>;
  /** Build outputs of a build user: entries must be owned by this uid. */
  expectedUid?: number;
  /** The owner objects get (default: the effective uid/gid). Only the uid is checked. */
  owner?: { uid: number; gid: number };
  /** Inodes ("dev:ino") canonicalised earlier in the same build, shared between its outputs. */
  inodesSeen?: Set<string>;
  /** Record errors (I/O, unsupported types, ownership) in the report and carry on instead of throwing. */
  keepGoing?: boolean;
}

export interface CanonicaliseReport {
  /** Entries looked at. */
  entries: number;
  issues: MetadataIssue[];
}

export const DEFAULT_IGNORED_XATTRS = ["security.selinux", "system.nfs4_acl"];

/** A metadata error in a build output, where Nix stops ("invalid ownership on file"). */
export class CanonicaliseError extends BunixError {
  override name = "CanonicaliseError";
}

const SLASH = Buffer.from("/");

function text(path: Buffer): string {
  return path.toString("utf8");
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

function typeName(st: Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  return "an unknown type";
}

class Walk {
  readonly report: CanonicaliseReport = { entries: 0, issues: [] };
  private readonly fix: boolean;
  private readonly ignored: Set<string>;
  private readonly owner: { uid: number; gid: number };
  private readonly inodesSeen: Set<string>;

  constructor(private readonly options: CanonicaliseOptions) {
    this.fix = options.checkOnly !== true;
    this.ignored = new Set(options.ignoredXattrs ?? DEFAULT_IGNORED_XATTRS);
    this.owner = options.owner ?? { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
    this.inodesSeen = options.inodesSeen ?? new Set();
  }

  /** Records a problem that cannot be fixed; throws unless keeping going. */
  private fail(kind: MetadataIssueKind, file: Buffer, detail: string, error: unknown): void {
    if (!this.options.keepGoing) {
      if (error instanceof Error && !(error instanceof BunixError) && (error as NodeJS.ErrnoException).code) throw new SystemError(detail, error);
      throw error instanceof Error ? error : new CanonicaliseError(detail);
    }
    const reason = error instanceof BunixError ? error.message : error instanceof Error ? describeSystemError(error) : undefined;
    this.report.issues.push({ kind, file: text(file), detail, fixed: false, ...(reason ? { error: reason } : {}) });
  }

  /** Records a change, making it unless only checking. */
  private change(kind: MetadataIssueKind, file: Buffer, detail: string, what: string, apply: () => void): void {
    if (!this.fix) {
      this.report.issues.push({ kind, file: text(file), detail, fixed: false });
      return;
    }
    try {
      apply();
    } catch (error) {
      if (!this.options.keepGoing) throw new SystemError(`${what} '${text(file)}'`, error);
      this.report.issues.push({ kind, file: text(file), detail, fixed: false, error: `${what}: ${describeSystemError(error)}` });
      return;
    }
    this.report.issues.push({ kind, file: text(file), detail, fixed: true });
  }

  visit(path: Buffer): void {
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (error) {
      this.fail("io", path, `getting status of '${text(path)}'`, error);
      return;
    }
    this.report.entries++;
    if (!st.isFile() && !st.isDirectory() && !st.isSymbolicLink()) {
      this.fail("type", path, `file '${text(path)}' has an unsupported type (${typeName(st)})`, new CanonicaliseError(`file '${text(path)}' has an unsupported type`));
      return;
    }
    this.xattrs(path);

    const inode = `${st.dev}:${st.ino}`;
    if (this.options.expectedUid !== undefined && st.uid !== this.options.expectedUid) {
      if (st.isDirectory() || !this.inodesSeen.has(inode)) {
        this.fail("ownership", path, `invalid ownership on file '${text(path)}': owned by uid ${st.uid}, expected ${this.options.expectedUid}`, new CanonicaliseError(`invalid ownership on file '${text(path)}'`));
      }
      // A hard link to an entry canonicalised earlier in this build.
      return;
    }
    this.inodesSeen.add(inode);

    if (!st.isSymbolicLink()) {
      const mode = st.mode & 0o7777;
      // Nix would leave a directory at 0444 (or make one 0444 from 0600): a
      // directory nobody but root can enter. Directories are always 0555 here.
      const canonical = st.isDirectory() ? mode === 0o555 : mode === 0o444 || mode === 0o555;
      if (!canonical) {
        const wanted = st.isDirectory() || st.mode & 0o100 ? 0o555 : 0o444;
        this.change("mode", path, `mode ${octal(mode)}, should be ${octal(wanted)}`, `changing mode of`, () => chmodSync(path, wanted));
      }
    }
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (mtime !== CANONICAL_MTIME) {
      this.change("mtime", path, `modification time ${new Date(st.mtimeMs).toISOString()}, should be 1970-01-01T00:00:01Z`, "changing modification time of", () =>
        lutimesSync(path, Math.floor(st.atimeMs / 1000), CANONICAL_MTIME),
      );
    }
    if (st.uid !== this.owner.uid) {
      this.change("owner", path, `owned by uid ${st.uid} (gid ${st.gid}), should be uid ${this.owner.uid}`, `changing owner to ${this.owner.uid} of`, () =>
        lchownSync(path, this.owner.uid, this.owner.gid),
      );
    }
    if (st.isDirectory()) {
      let names: Buffer[];
      try {
        names = (readdirSync(path, { encoding: "buffer" }) as Uint8Array[]).map((n) => Buffer.from(n));
      } catch (error) {
        this.fail("io", path, `reading directory '${text(path)}'`, error);
        return;
      }
      for (const name of names) this.visit(Buffer.concat([path, SLASH, name]));
    }
  }

  private xattrs(path: Buffer): void {
    let names: string[];
    try {
      names = llistxattr(path);
    } catch (error) {
      this.fail("io", path, `querying extended attributes of '${text(path)}'`, error);
      return;
    }
    for (const name of names) {
      if (this.ignored.has(name)) continue;
      this.change("xattr", path, `extended attribute '${name}'`, `removing extended attribute '${name}' from`, () => lremovexattr(path, name));
    }
  }

  /** After the walk, the top-level entry must belong to the store owner (Nix's final check). */
  checkTop(path: Buffer): void {
    if (!this.fix) return;
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      return; // already reported
    }
    if (st.uid !== this.owner.uid && !this.options.keepGoing) {
      throw new CanonicaliseError(`wrong ownership of top-level store path '${text(path)}': owned by uid ${st.uid}, expected ${this.owner.uid}`);
    }
  }
}

/**
 * Canonicalises (or, with `checkOnly`, inspects) the tree at `path`. Without
 * `keepGoing`, the first problem that cannot be fixed throws, as in Nix.
 */
export function canonicalisePathMetaData(path: string | Uint8Array, options: CanonicaliseOptions = {}): CanonicaliseReport {
  const walk = new Walk(options);
  const bytes = typeof path === "string" ? Buffer.from(path) : Buffer.from(path);
  walk.visit(bytes);
  walk.checkTop(bytes);
  return walk.report;
}

/**
 * Canonicalises a new store object the way every addition does, with the
 * `ignored-acls` default and the effective uid/gid as owner; throws on the
 * first problem that cannot be fixed.
 */
export function canonicaliseTree(path: string, options: Omit<CanonicaliseOptions, "checkOnly" | "keepGoing"> = {}): CanonicaliseReport {
  return canonicalisePathMetaData(path, options);
}

/** One line per issue, e.g. "'/nix/store/...-x/bin/y': mode 0644, should be 0444 (fixed)". */
export function describeMetadataIssue(issue: MetadataIssue): string {
  if (issue.kind === "type" || issue.kind === "ownership") return issue.detail;
  if (issue.kind === "io") return `${issue.detail}: ${issue.error ?? "failed"}`;
  const state = issue.fixed ? " (fixed)" : issue.error ? ` (not fixed: ${issue.error})` : "";
  return `'${issue.file}': ${issue.detail}${state}`;
}
