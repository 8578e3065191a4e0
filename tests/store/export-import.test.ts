// Export streams and registration texts against the vectors from real Nix
// 2.8 (tests/fixtures/export-import.json), and the ways they can be wrong.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashPath } from "../../internal/nar/hash-path.ts";
import { encodeString, writeU64 } from "../../internal/nar/tokens.ts";
import { loadSettings } from "../../internal/settings/settings.ts";
import { resolveStoreLocation } from "../../internal/settings/store-location.ts";
import { bytesSource } from "../../internal/stream/byte-source.ts";
import type { StorePath } from "../../internal/store-path/store-path.ts";
import { dumpDb, invalidPaths, parseRegistrationText } from "../../internal/store/dump-db.ts";
import { exportPaths } from "../../internal/store/export.ts";
import { importPaths } from "../../internal/store/import.ts";
import { loadDb, registerValidity } from "../../internal/store/load-db.ts";
import { LocalStore } from "../../internal/store/local-store.ts";
import { scratchDir } from "../helpers/tmp.ts";

const vectors = JSON.parse(readFileSync(join(import.meta.dir, "../fixtures/export-import.json"), "utf8"));
const twoPaths = Buffer.from(vectors.export_two_paths.stream_base64, "base64");
const onePath = Buffer.from(vectors.export_one_path.stream_base64, "base64");
const [FOO, BAR] = vectors.export_two_paths.paths as [string, string];
/** Where the bar record starts in the two-path stream (foo's record is the one-path stream minus its final u64(0)). */
const BAR_RECORD = onePath.length - 8;

const opened: LocalStore[] = [];
afterEach(() => {
  for (const store of opened.splice(0)) store.close();
});

function freshStore(): LocalStore {
  const root = scratchDir("export-import");
  const settings = loadSettings({ env: {}, readFile: () => undefined, options: [["build-users-group", ""]] });
  const store = LocalStore.open(resolveStoreLocation({ store: root, env: {} }), settings, { mode: "write" });
  opened.push(store);
  return store;
}

function exportBytes(store: LocalStore, paths: StorePath[]): Buffer {
  const parts: Buffer[] = [];
  exportPaths(store, paths, (bytes) => parts.push(Buffer.from(bytes)));
  return Buffer.concat(parts);
}

const valid = (store: LocalStore) => store.queryAllValidPaths().map((p) => store.print(p));
/** Entries of the store directory (objects and leftovers, e.g. staging directories). */
const onDisk = (store: LocalStore) => readdirSync(store.realStoreDir).filter((n) => !n.endsWith(".lock") && n !== ".links").sort();
const validNames = (store: LocalStore) => store.queryAllValidPaths().map((p) => p.baseName).sort();

async function importStream(store: LocalStore, bytes: Uint8Array): Promise<string[]> {
  return (await importPaths(store, bytesSource(bytes))).map((p) => store.print(p));
}

async function importFails(store: LocalStore, bytes: Uint8Array, message: string | RegExp): Promise<void> {
  let error: unknown;
  try {
    await importPaths(store, bytesSource(bytes));
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).toMatch(message);
  // Whatever was refused left no object, registration or staging directory behind.
  expect(onDisk(store)).toEqual(validNames(store));
}

function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  writeU64(b, 0, value);
  return b;
}

describe("vectors from nix-store --export", () => {
  test("importing the two-path stream gives the paths in stream order, and exporting them again the same bytes", async () => {
    const store = freshStore();
    const printed: string[] = [];
    const paths = await importPaths(store, bytesSource(twoPaths), { onImported: (p, added) => printed.push(`${store.print(p)} ${added}`) });
    expect(paths.map((p) => store.print(p))).toEqual(vectors.export_two_paths.import_output_order);
    expect(printed).toEqual([`${FOO} true`, `${BAR} true`]);
    // Nix's command was `--export bar foo`: the argument order does not matter, references come first.
    expect(exportBytes(store, [store.parse(BAR), store.parse(FOO)]).equals(twoPaths)).toBe(true);
    expect(exportBytes(store, [store.parse(FOO), store.parse(BAR), store.parse(FOO)]).equals(twoPaths)).toBe(true);
    expect(exportBytes(store, [store.parse(FOO)]).equals(onePath)).toBe(true);
    expect(twoPaths.length).toBe(vectors.export_two_paths.stream_size);
    const bar = store.requireInfo(store.parse(BAR));
    expect(bar.references.map((r) => store.print(r))).toEqual([FOO]);
    expect(bar.ultimate).toBe(false);
    expect(bar.ca).toBeUndefined();
    expect(lstatSync(store.realPath(bar.path)).mode & 0o7777).toBe(0o444);
    expect(lstatSync(store.realPath(bar.path)).mtimeMs).toBe(1000);
  });

  test("importing again reports the paths and changes nothing", async () => {
    const store = freshStore();
    await importStream(store, twoPaths);
    const before = store.requireInfo(store.parse(BAR));
    const again: boolean[] = [];
    await importPaths(store, bytesSource(twoPaths), { onImported: (_p, added) => again.push(added) });
    expect(again).toEqual([false, false]);
    expect(store.requireInfo(store.parse(BAR))).toEqual(before);
    expect(onDisk(store)).toEqual(validNames(store));
  });

  test("dump-db prints what Nix printed, in argument order or sorted", async () => {
    const store = freshStore();
    await importStream(store, twoPaths);
    const text = [...dumpDb(store, [store.parse(FOO), store.parse(BAR)])].join("");
    expect(text).toBe(vectors.dump_db_text_paths.text);
    const all = [...dumpDb(store, undefined)].join("");
    // npgc...-bar sorts before xl3j...-foo.
    expect(all).toBe(text.slice(text.indexOf(BAR)) + text.slice(0, text.indexOf(BAR)));
    expect(() => [...dumpDb(store, [store.parse(FOO.replace("xl3j", "xl3k"))])]).toThrow("is not valid");
  });

  test("a legacy signature (marker 1) is read and ignored", async () => {
    const store = freshStore();
    const signed = Buffer.concat([onePath.subarray(0, onePath.length - 16), u64(1), encodeString("legacy signature bytes"), u64(0)]);
    expect(await importStream(store, signed)).toEqual([FOO]);
    expect(store.requireInfo(store.parse(FOO)).signatures).toEqual([]);
  });
});

describe("malformed streams are refused", () => {
  test("a bad record marker", async () => {
    await importFails(freshStore(), Buffer.concat([u64(2), twoPaths.subarray(8)]), "input doesn't look like something created by 'nix-store --export'");
    await importFails(freshStore(), Buffer.concat([u64(2 ** 32 + 1), twoPaths.subarray(8)]), "input doesn't look like");
  });

  test("a wrong magic after the NAR", async () => {
    const bad = Buffer.from(onePath);
    bad.write("NIXF", bad.indexOf("NIXE"), "latin1");
    await importFails(freshStore(), bad, "Nix archive cannot be imported; wrong format");
  });

  test("a corrupted NAR", async () => {
    const bad = Buffer.from(twoPaths);
    bad.write("regulaX", bad.indexOf("regular", BAR_RECORD), "latin1");
    const store = freshStore();
    await importFails(store, bad, /regulaX|unknown|expected/);
    // Records before the bad one stay imported, as with Nix.
    expect(valid(store)).toEqual([FOO]);
  });

  test("a reference to an unknown path", async () => {
    const barOnly = Buffer.concat([twoPaths.subarray(BAR_RECORD)]);
    const store = freshStore();
    await importFails(store, barOnly, "which is not valid");
    expect(valid(store)).toEqual([]);
  });

  test("every truncation of the two-path stream", async () => {
    for (let length = 0; length < twoPaths.length; length += length < 64 ? 1 : 7) {
      const store = freshStore();
      await importFails(store, twoPaths.subarray(0, length), /unexpected end-of-file/);
      const expected = length >= twoPaths.length - 8 ? [BAR, FOO] : length >= BAR_RECORD ? [FOO] : [];
      expect(valid(store).sort()).toEqual(expected.sort());
      store.close();
    }
  });

  test("non-zero padding and a path outside the store", async () => {
    const padded = Buffer.from(onePath);
    const pathAt = padded.indexOf("/nix/store/");
    padded[pathAt + FOO.length] = 1; // the padding after the 51-byte path
    await importFails(freshStore(), padded, "non-zero padding");
    const elsewhere = Buffer.from(onePath);
    elsewhere.write("/nix/stora/", pathAt, "latin1");
    await importFails(freshStore(), elsewhere, "bad store path");
  });
});

describe("export refuses changed paths", () => {
  test("a modified object fails after its NAR, unless the recorded hash is all zeros", async () => {
    const store = freshStore();
    await importStream(store, twoPaths);
    const foo = store.parse(FOO);
    const real = store.realPath(foo);
    chmodSync(real, 0o644);
    writeFileSync(real, "hellO\n");
    expect(() => exportBytes(store, [foo])).toThrow(`hash of path '${FOO}' has changed from 'sha256:`);
    store.db.run("update ValidPaths set hash = ? where path = ?", `sha256:${"0".repeat(64)}`, FOO);
    expect(exportBytes(store, [foo]).includes(Buffer.from("hellO\n"))).toBe(true);
    expect(() => exportBytes(store, [store.parse(FOO.replace("xl3j", "xl3k"))])).toThrow("is not valid");
  });
});

describe("load-db and register-validity", () => {
  test("load-db of Nix's dump registers the same entries; a second load updates them", async () => {
    const store = freshStore();
    const text = vectors.dump_db_text_paths.text as string;
    loadDb(store, text);
    expect([...dumpDb(store, [store.parse(FOO), store.parse(BAR)])].join("")).toBe(text);
    // The hash line takes any form, sha256 by default; the later block of a path wins.
    const fooHash = "1c37d01af40be2e80691de3cc3df44377a699afbb17c68f080964b2fd071fc13";
    const sri = `sha256-${Buffer.from(fooHash, "hex").toString("base64")}`;
    loadDb(store, `${FOO}\n${sri}\n999\n\n0\n${FOO}\n${fooHash}\n121\n\n0\n`);
    expect(store.requireInfo(store.parse(FOO)).narSize).toBe(121);
    expect(store.requireInfo(store.parse(BAR)).references.map((r) => store.print(r))).toEqual([FOO]);
  });

  test("bad input is refused with its line number and registers nothing", () => {
    const store = freshStore();
    const good = vectors.dump_db_text_paths.text as string;
    const cases: Array<[string, RegExp]> = [
      [good.replace("\n120\n", "\nx120\n"), /line 3: expected a NAR size, got 'x120'/],
      [good.replace("1c37d01a", "1c37d01"), /line 2: .*wrong length/],
      [good.replace("be0755a3", "md5:be0755a3"), /line 7: .*should have type 'sha256'/],
      [good.replace("\n1\n", "\none\n"), /line 10: expected the number of references, got 'one'/],
      [good.slice(0, -1), /line 11: the input does not end with a newline/],
      [good.slice(0, good.lastIndexOf("/nix/store")), /line 11: unexpected end of input: expected reference 1 of 1/],
      [`${good}/tmp/not-a-store-path\n`, /line 12: expected a store path: .*not in the Nix store/],
      [`${good}\n`, /line 12: expected a store path/],
      [good.replace(`\n1\n${FOO}`, `\n1\n${FOO.replace("xl3j", "xl3k")}`), /line 6: .* which is neither valid nor registered/],
    ];
    for (const [text, message] of cases) {
      expect(() => loadDb(store, text)).toThrow(message);
      expect(valid(store)).toEqual([]);
    }
    expect(parseRegistrationText(store, "", true)).toEqual([]);
  });

  test("register-validity canonicalises and hashes objects on disk; valid paths are skipped unless --reregister", () => {
    const store = freshStore();
    const dirPath = store.parse("/nix/store/00000000000000000000000000000000-tree");
    const filePath = store.parse("/nix/store/11111111111111111111111111111111-file");
    const tree = store.realPath(dirPath);
    mkdirSync(join(tree, "sub"), { recursive: true });
    writeFileSync(join(tree, "sub/run"), "#!/bin/sh\n", { mode: 0o750 });
    writeFileSync(join(tree, "data"), "data\n", { mode: 0o640 });
    symlinkSync("data", join(tree, "link"));
    writeFileSync(store.realPath(filePath), `refers to ${store.print(dirPath)}\n`, { mode: 0o600 });
    const text = `${store.print(filePath)}\n\n1\n${store.print(dirPath)}\n${store.print(dirPath)}\n\n0\n`;
    const registered = registerValidity(store, text, { reregister: false, hashGiven: false, canonicalise: true });
    expect(registered.map((i) => store.print(i.path))).toEqual([store.print(dirPath), store.print(filePath)]);
    expect(lstatSync(join(tree, "sub/run")).mode & 0o7777).toBe(0o555);
    expect(lstatSync(join(tree, "data")).mode & 0o7777).toBe(0o444);
    expect(lstatSync(join(tree, "sub")).mode & 0o7777).toBe(0o555);
    expect(lstatSync(tree).mtimeMs).toBe(1000);
    expect(lstatSync(join(tree, "link")).mtimeMs).toBe(1000);
    const info = store.requireInfo(dirPath);
    const expected = hashPath(tree);
    expect(info.narHash.equals(expected.hash)).toBe(true);
    expect(info.narSize).toBe(expected.narSize);
    expect(store.requireInfo(filePath).references).toEqual([dirPath]);
    // Already valid: skipped, unless reregistered.
    expect(registerValidity(store, text, { reregister: false, hashGiven: false, canonicalise: true })).toEqual([]);
    expect(registerValidity(store, text, { reregister: true, hashGiven: false, canonicalise: true }).length).toBe(2);
    // A missing object registers nothing.
    const missing = `${store.print(dirPath).replace("0000", "2222")}\n\n0\n`;
    expect(() => registerValidity(store, missing, { reregister: false, hashGiven: false, canonicalise: true })).toThrow("No such file or directory");
    expect(validNames(store)).toEqual([dirPath.baseName, filePath.baseName]);
    expect(invalidPaths(store, [filePath, store.parse(store.print(dirPath).replace("0000", "2222"))]).map((p) => p.hashPart.slice(0, 4))).toEqual(["2222"]);
  });
});
