/**
 * `nix-store --import` (formats.md 5.1): reads an export stream record by
 * record. Each record's NAR is restored, canonical, straight into a staging
 * directory while it is hashed (its SHA-256 and size become narHash and
 * narSize); the trailer then names the path, its references and deriver, and
 * the staged object is installed and registered (no `ca`, not ultimate).
 *
 * As in Nix, records are independent: a failure in record N leaves records
 * 1..N-1 imported (so re-sending a stream skips what arrived) and nothing of
 * record N, whose staging directory is removed. References must be valid or
 * imported by an earlier record. A path that is already valid is skipped
 * (its NAR is still read, and the path is still reported).
 */
import { BunixError } from "../errors.ts";
import { createHasher } from "../hash/hasher.ts";
import { restoreNar } from "../nar/restore.ts";
import { paddingOf } from "../nar/tokens.ts";
import type { ByteSource } from "../stream/byte-source.ts";
import { type StorePath, compareStorePaths } from "../store-path/store-path.ts";
import { EXPORT_MAGIC } from "./export.ts";
import { storeError } from "./hinted-error.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";
import { isTrustworthy } from "./signatures.ts";
import { installStaged, withStaging } from "./staging.ts";

/** A malformed export stream; `offset` is the byte of the stream at fault. */
export class ExportStreamError extends BunixError {
  override name = "ExportStreamError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset} of the stream)`);
  }
}

/** No store path (store dir + '/' + 32 + '-' + 211) comes near this; longer is garbage. */
const MAX_PATH_STRING = 4096;
/** Legacy signatures are skipped in pieces of at most this size. */
const SKIP_PIECE = 64 << 10;

export interface ImportOptions {
  /** Give names that collide case-insensitively a suffix (default: the use-case-hack setting). */
  caseHack?: boolean;
  /** Called after each record, with whether it was newly added. */
  onImported?: (path: StorePath, added: boolean) => void;
  /**
   * Refuse records that are not signed by a trusted key (an untrusted daemon
   * client): export streams carry no signatures, so with require-sigs on
   * every record is refused.
   */
  checkSigs?: boolean;
}

/** Reads a u64 as [high, low] 32-bit halves, so that no value loses precision. */
async function readU64Halves(source: ByteSource): Promise<[number, number]> {
  const bytes = await source.readExact(8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  return [view.getUint32(4, true), view.getUint32(0, true)];
}

async function readCount(source: ByteSource, what: string): Promise<number> {
  const at = source.position;
  const [high, low] = await readU64Halves(source);
  if (high >= 0x200000) throw new ExportStreamError(`${what} is larger than 2^53`, at);
  return high * 0x100000000 + low;
}

async function checkPadding(source: ByteSource, length: number): Promise<void> {
  const pad = paddingOf(length);
  if (pad === 0) return;
  const at = source.position;
  const bytes = await source.readExact(pad);
  if (bytes.some((b) => b !== 0)) throw new ExportStreamError("non-zero padding", at);
}

/** str(x) as text, for store paths. */
async function readPathString(source: ByteSource, what: string): Promise<string> {
  const at = source.position;
  const length = await readCount(source, `length of the ${what}`);
  if (length > MAX_PATH_STRING) throw new ExportStreamError(`the ${what} is ${length} bytes long, longer than any store path`, at);
  const text = Buffer.from(await source.readExact(length)).toString("latin1");
  await checkPadding(source, length);
  return text;
}

/** Consumes str(x) without keeping it. */
async function skipString(source: ByteSource, what: string): Promise<void> {
  let left = await readCount(source, `length of the ${what}`);
  const length = left;
  while (left > 0) left -= (await source.readSome(Math.min(left, SKIP_PIECE))).length;
  await checkPadding(source, length);
}

function parsePathAt(store: LocalStore, text: string, what: string, at: number): StorePath {
  try {
    return store.parse(text);
  } catch (error) {
    throw new ExportStreamError(`bad ${what}: ${(error as Error).message}`, at);
  }
}

interface Trailer {
  path: StorePath;
  references: StorePath[];
  deriver: StorePath | undefined;
}

/** What follows a record's NAR: magic, path, references, deriver, legacy signature. */
async function readTrailer(store: LocalStore, source: ByteSource): Promise<Trailer> {
  const magicAt = source.position;
  const [high, low] = await readU64Halves(source);
  if (high !== 0 || low !== EXPORT_MAGIC) throw new ExportStreamError("Nix archive cannot be imported; wrong format", magicAt);
  let at = source.position;
  const path = parsePathAt(store, await readPathString(source, "store path"), "store path", at);
  const count = await readCount(source, "number of references");
  const references: StorePath[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    at = source.position;
    const ref = parsePathAt(store, await readPathString(source, "reference"), "reference", at);
    if (!seen.has(ref.baseName)) references.push(ref);
    seen.add(ref.baseName);
  }
  at = source.position;
  const deriverText = await readPathString(source, "deriver");
  const deriver = deriverText === "" ? undefined : parsePathAt(store, deriverText, "deriver", at);
  const [sigHigh, sigLow] = await readU64Halves(source);
  if (sigHigh === 0 && sigLow === 1) await skipString(source, "legacy signature");
  return { path, references: references.sort(compareStorePaths), deriver };
}

/** Imports one record (after its u64(1) marker); returns its path and whether it was added. */
async function importRecord(store: LocalStore, source: ByteSource, caseHack: boolean, checkSigs: boolean): Promise<{ path: StorePath; added: boolean }> {
  return withStaging(store, async (staging) => {
    const hasher = createHasher("sha256");
    let narSize = 0;
    source.setTap((bytes) => {
      hasher.update(bytes);
      narSize += bytes.length;
    });
    try {
      await restoreNar(source, staging.objectPath, { canonical: true, caseHack });
    } finally {
      source.setTap(undefined);
    }
    const narHash = hasher.finish();
    const { path, references, deriver } = await readTrailer(store, source);
    const info: PathInfo = { path, narHash, narSize, references, deriver, registrationTime: 0, ultimate: false, signatures: [], ca: undefined };
    if (checkSigs && !isTrustworthy(store, info)) throw storeError`cannot add path '${store.print(path)}' because it lacks a valid signature`;
    return { path, added: await installStaged(store, staging, info) };
  });
}

/**
 * Imports every record of an export stream; returns the paths in stream
 * order (already-valid ones included). Bytes after the final u64(0) are not
 * read, as with Nix.
 */
export async function importPaths(store: LocalStore, source: ByteSource, options: ImportOptions = {}): Promise<StorePath[]> {
  const imported: StorePath[] = [];
  const caseHack = options.caseHack ?? store.settings.bool("use-case-hack");
  for (;;) {
    const at = source.position;
    const [high, low] = await readU64Halves(source);
    if (high === 0 && low === 0) break;
    if (high !== 0 || low !== 1) throw new ExportStreamError("input doesn't look like something created by 'nix-store --export'", at);
    const { path, added } = await importRecord(store, source, caseHack, options.checkSigs ?? false);
    imported.push(path);
    options.onImported?.(path, added);
  }
  return imported;
}
