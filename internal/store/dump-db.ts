/**
 * The validity registration text of `nix-store --dump-db`, `--load-db` and
 * `--register-validity` (formats.md 5.2): one block per path, each line
 * ending in '\n':
 *
 *   <store path>
 *   <NAR hash>            (base-16 when written; any form, sha256 default, when read)
 *   <NAR size>            (the two hash lines are absent for --register-validity)
 *   <deriver or empty>
 *   <number of references>
 *   <reference>...
 *
 * Printing and parsing live here; registering parsed blocks is load-db.ts.
 */
import type { Hash } from "../hash/hash.ts";
import { parseHash } from "../hash/hash.ts";
import type { StorePath } from "../store-path/store-path.ts";
import { StoreError } from "./errors.ts";
import type { LocalStore } from "./local-store.ts";
import type { PathInfo } from "./path-info.ts";

export interface BlockOptions {
  /** Include the hash and size lines (--dump-db does). */
  hash: boolean;
  /** Print the deriver (else an empty line). */
  deriver: boolean;
}

/** One path's block, as Nix's makeValidityRegistration writes it. */
export function registrationBlock(store: LocalStore, info: PathInfo, options: BlockOptions): string {
  let text = `${store.print(info.path)}\n`;
  if (options.hash) text += `${info.narHash.format("base16")}\n${info.narSize}\n`;
  text += `${options.deriver && info.deriver ? store.print(info.deriver) : ""}\n`;
  text += `${info.references.length}\n`;
  for (const ref of info.references) text += `${store.print(ref)}\n`;
  return text;
}

/**
 * `--dump-db`: blocks for `paths` in the order given (each must be valid),
 * or for every valid path, sorted, when `paths` is undefined.
 */
export function* dumpDb(store: LocalStore, paths: readonly StorePath[] | undefined): Generator<string> {
  const options = { hash: true, deriver: true };
  if (paths) {
    for (const path of paths) yield registrationBlock(store, store.requireInfo(path), options);
    return;
  }
  for (const path of store.queryAllValidPaths()) {
    // A path deleted since the listing (a concurrent garbage collection) is left out.
    const info = store.queryPathInfo(path);
    if (info) yield registrationBlock(store, info, options);
  }
}

/** A bad registration text; `line` is 1-based. */
export class RegistrationTextError extends StoreError {
  override name = "RegistrationTextError";
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`invalid validity registration at line ${line}: ${message}`);
  }
}

export interface RegistrationEntry {
  /** Line of the store path, for messages. */
  line: number;
  path: StorePath;
  /** Present when the text had the hash lines. */
  narHash: Hash | undefined;
  narSize: number | undefined;
  deriver: StorePath | undefined;
  references: StorePath[];
}

const NUMBER = /^[0-9]+$/;

/** Reads the lines of a registration text one at a time, naming what each should hold. */
class Lines {
  private readonly lines: string[];
  private at = 0;

  constructor(text: string) {
    this.lines = text.split("\n");
    const last = this.lines.pop()!;
    if (last !== "") throw new RegistrationTextError(this.lines.length + 1, "the input does not end with a newline");
  }

  get done(): boolean {
    return this.at >= this.lines.length;
  }

  /** Number of the line `next` returns next. */
  get number(): number {
    return this.at + 1;
  }

  next(what: string): string {
    if (this.done) throw new RegistrationTextError(this.number, `unexpected end of input: expected ${what}`);
    return this.lines[this.at++]!;
  }

  path(store: LocalStore, what: string): StorePath {
    const line = this.number;
    const text = this.next(what);
    try {
      return store.parse(text);
    } catch (error) {
      throw new RegistrationTextError(line, `expected ${what}: ${(error as Error).message}`);
    }
  }

  count(what: string): number {
    const line = this.number;
    const text = this.next(what);
    const value = Number(text);
    if (!NUMBER.test(text) || !Number.isSafeInteger(value)) throw new RegistrationTextError(line, `expected ${what}, got '${text}'`);
    return value;
  }

  hash(): Hash {
    const line = this.number;
    const text = this.next("a NAR hash");
    try {
      return parseHash(text, "sha256");
    } catch (error) {
      throw new RegistrationTextError(line, (error as Error).message);
    }
  }
}

/**
 * Parses a registration text (decoded as latin1, so every byte is kept).
 * With `hashGiven`, each block has the hash and size lines.
 */
export function parseRegistrationText(store: LocalStore, text: string, hashGiven: boolean): RegistrationEntry[] {
  const lines = new Lines(text);
  const entries: RegistrationEntry[] = [];
  while (!lines.done) {
    const line = lines.number;
    const path = lines.path(store, "a store path");
    const narHash = hashGiven ? lines.hash() : undefined;
    const narSize = hashGiven ? lines.count("a NAR size") : undefined;
    const deriverLine = lines.number;
    const deriverText = lines.next("a deriver (or an empty line)");
    let deriver: StorePath | undefined;
    if (deriverText !== "") {
      try {
        deriver = store.parse(deriverText);
      } catch (error) {
        throw new RegistrationTextError(deriverLine, `expected a deriver (or an empty line): ${(error as Error).message}`);
      }
    }
    const count = lines.count("the number of references");
    const references: StorePath[] = [];
    for (let i = 0; i < count; i++) references.push(lines.path(store, `reference ${i + 1} of ${count}`));
    entries.push({ line, path, narHash, narSize, deriver, references });
  }
  return entries;
}

/** `--check-validity`: the given paths that are not valid, in order. */
export function invalidPaths(store: LocalStore, paths: readonly StorePath[]): StorePath[] {
  return paths.filter((path) => !store.isValid(path));
}
