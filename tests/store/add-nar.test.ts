/**
 * Adding paths from NARs with known info (internal/store/add-nar.ts) and
 * content-addressed adds from streams (internal/store/add-dump.ts), on a
 * real store, without a daemon: what is checked before and after the NAR is
 * read, and that a refusal leaves nothing registered and no staging behind.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hashBytes } from "../../internal/hash/hasher.ts";
import { regularFileNarPrefix, regularFileNarSuffix } from "../../internal/nar/single-file.ts";
import { loadSettings } from "../../internal/settings/settings.ts";
import { resolveStoreLocation } from "../../internal/settings/store-location.ts";
import { addFlatContents, addFlatFromNar, addRecursiveNar } from "../../internal/store/add-dump.ts";
import { addNar } from "../../internal/store/add-nar.ts";
import { LocalStore } from "../../internal/store/local-store.ts";
import type { PathInfo } from "../../internal/store/path-info.ts";
import { bytesSource } from "../../internal/stream/byte-source.ts";
import { formatContentAddress } from "../../internal/store-path/content-address.ts";
import { makeFixedOutputPath, makeStorePath } from "../../internal/store-path/make.ts";
import { scratchDir } from "../helpers/tmp.ts";

let store: LocalStore;

beforeEach(() => {
  const root = join(scratchDir("add-nar"), "root");
  const settings = loadSettings({ env: {}, readFile: () => undefined, options: [["build-users-group", ""]] });
  store = LocalStore.open(resolveStoreLocation({ store: root, env: {} }), settings, { mode: "write" });
});

afterEach(() => {
  store.close();
});

function fileNar(text: string): Uint8Array {
  const bytes = Buffer.from(text);
  return Buffer.concat([regularFileNarPrefix(bytes.length, false), bytes, regularFileNarSuffix(bytes.length)]);
}

function infoFor(nar: Uint8Array, name: string, extra: Partial<PathInfo> = {}): PathInfo {
  return {
    path: makeStorePath("output:out", hashBytes("sha256", `${name}${Math.random()}`), name, store.storeDir),
    narHash: hashBytes("sha256", nar),
    narSize: nar.length,
    references: [],
    deriver: undefined,
    registrationTime: 0,
    ultimate: false,
    signatures: [],
    ca: undefined,
    ...extra,
  };
}

function leftovers(): string[] {
  return readdirSync(store.realStoreDir).filter((n) => n.includes("staging"));
}

describe("addNar", () => {
  test("adds, then reports an already valid path without reading its NAR", async () => {
    const nar = fileNar("hello\n");
    const info = infoFor(nar, "hello");
    expect(await addNar(store, info, bytesSource(nar), { checkSigs: false })).toBe("added");
    expect(readFileSync(store.realPath(info.path), "utf8")).toBe("hello\n");
    const source = bytesSource(nar);
    expect(await addNar(store, info, source, { checkSigs: false })).toBe("already-valid");
    expect(source.position).toBe(0);
  });

  test("refuses mismatches after the NAR, and unsigned paths before it; nothing is left", async () => {
    const nar = fileNar("checked\n");
    const badHash = infoFor(nar, "bad-hash", { narHash: hashBytes("sha256", "x") });
    await expect(addNar(store, badHash, bytesSource(nar), { checkSigs: false })).rejects.toThrow("hash mismatch importing path");
    const badSize = infoFor(nar, "bad-size", { narSize: 1 });
    await expect(addNar(store, badSize, bytesSource(nar), { checkSigs: false })).rejects.toThrow("size mismatch importing path");
    const unsigned = infoFor(nar, "unsigned");
    const source = bytesSource(nar);
    await expect(addNar(store, unsigned, source, { checkSigs: true })).rejects.toThrow("lacks a valid signature");
    expect(source.position).toBe(0);
    expect(store.queryAllValidPaths()).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  test("a content-addressed path needs no signature; a false content address is refused", async () => {
    const nar = fileNar("by content\n");
    const hash = hashBytes("sha256", "by content\n");
    const path = makeFixedOutputPath("flat", hash, "by-content", store.storeDir);
    const ca = formatContentAddress({ method: "flat", hash });
    expect(await addNar(store, { ...infoFor(nar, "x"), path, ca }, bytesSource(nar), { checkSigs: true })).toBe("added");
    const elsewhere = infoFor(nar, "elsewhere", { ca });
    await expect(addNar(store, elsewhere, bytesSource(nar), { checkSigs: false })).rejects.toThrow("claims to be content-addressed");
  });
});

describe("content-addressed adds from streams", () => {
  test("flat contents, flat from a NAR and recursive give the paths of their hashes", async () => {
    const flat = await addFlatContents(store, "f", "sha1", [Buffer.from("fl"), Buffer.from("at\n")]);
    expect(flat.path.equals(makeFixedOutputPath("flat", hashBytes("sha1", "flat\n"), "f", store.storeDir))).toBe(true);
    const fromNar = await addFlatFromNar(store, "f", "sha1", bytesSource(fileNar("flat\n")));
    expect(fromNar.path.equals(flat.path)).toBe(true);
    expect(fromNar.added).toBe(false);
    const nar = fileNar("recursive\n");
    const rec = await addRecursiveNar(store, "r", "md5", bytesSource(nar));
    expect(rec.path.equals(makeFixedOutputPath("recursive", hashBytes("md5", nar), "r", store.storeDir))).toBe(true);
    expect(store.queryPathInfo(rec.path)?.narHash.equals(hashBytes("sha256", nar))).toBe(true);
  });

  test("trailing data after a NAR is refused when the NAR must end the source", async () => {
    const nar = Buffer.concat([fileNar("x\n"), Buffer.alloc(8)]);
    await expect(addRecursiveNar(store, "r", "sha256", bytesSource(nar), { requireEnd: true })).rejects.toThrow("trailing data");
    expect(store.queryAllValidPaths()).toEqual([]);
    expect(leftovers()).toEqual([]);
  });
});
