// NAR writer, reader and restorer against NARs made by real Nix 2.8 (fixtures/nar-*.json).
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { BunixError } from "../../internal/errors.ts";
import { hashBytes } from "../../internal/hash/hasher.ts";
import { dumpPath, hashPath, listNar, restoreNar } from "../../internal/nar/index.ts";
import { bytesSource } from "../../internal/stream/byte-source.ts";
import hashes from "../fixtures/nar-hashes.json";
import invalid from "../fixtures/nar-invalid.json";
import { type TreeSpec, normaliseSpec, readTreeSpec, writeTreeSpec } from "../helpers/tree-spec.ts";
import { scratchDir } from "../helpers/tmp.ts";

function dump(path: string, caseHack = false, bufferSize?: number): Buffer {
  return Buffer.concat([...dumpPath(path, { caseHack, bufferSize })].map((c) => Buffer.from(c)));
}

describe("dump matches nix-store --dump", () => {
  const dir = scratchDir("nar-vectors");
  for (const c of hashes.cases) {
    test(c.name, () => {
      const path = `${dir}/${c.name}`;
      writeTreeSpec(path, c.tree as TreeSpec);
      // The smallest buffer (16 KiB) makes larger files straddle chunk boundaries.
      for (const bufferSize of [undefined, 1]) {
        const nar = dump(path, false, bufferSize);
        expect(nar.length).toBe(c.nar_size);
        expect(hashBytes("sha256", nar).base16).toBe(c.nar_sha256_base16);
        if ("nar_base64" in c) expect(nar.toString("base64")).toBe(c.nar_base64 as string);
      }
      const { hash, narSize } = hashPath(path);
      expect(hash.base32).toBe(c.nar_sha256_base32);
      expect(hash.sri).toBe(c.nar_sha256_sri);
      expect(narSize).toBe(c.nar_size);
    });
  }
});

describe("restore of real NARs re-dumps identically", () => {
  const dir = scratchDir("nar-restore");
  for (const c of hashes.cases.filter((x) => "nar_base64" in x)) {
    test(c.name, async () => {
      const nar = Buffer.from((c as { nar_base64: string }).nar_base64, "base64");
      // Feed the NAR in 3-byte pieces so that every read crosses chunks.
      const pieces = [];
      for (let i = 0; i < nar.length; i += 3) pieces.push(nar.subarray(i, i + 3));
      const { ChunkSource } = await import("../../internal/stream/byte-source.ts");
      await restoreNar(new ChunkSource(pieces), `${dir}/${c.name}`, { requireEnd: true });
      expect(dump(`${dir}/${c.name}`).equals(nar)).toBe(true);
      expect(readTreeSpec(`${dir}/${c.name}`)).toEqual(normaliseSpec(c.tree as TreeSpec));
    });
  }
});

/**
 * Nix 2.8 accepts some malformed NARs (formats.md 3.4); bunix's reader is
 * strict and rejects everything a NAR writer would never produce.
 */
const STRICTER_THAN_NIX = new Set(["unsorted", "executable-after-contents", "no-contents", "symlink-no-target", "trailing-data"]);

describe("malformed NARs (nix-store --restore cases)", () => {
  const dir = scratchDir("nar-invalid");
  for (const c of invalid.cases) {
    const accept = c.accepted && !STRICTER_THAN_NIX.has(c.name);
    test(`${c.name}: ${c.description} -> ${accept ? "accepted" : "rejected"}`, async () => {
      const target = `${dir}/${c.name}`;
      const restore = restoreNar(bytesSource(Buffer.from(c.nar_base64, "base64")), target, { requireEnd: true });
      if (accept) {
        await restore;
        expect(readTreeSpec(target)).toEqual(normaliseSpec(c.result_tree as TreeSpec));
      } else {
        await expect(restore).rejects.toBeInstanceOf(BunixError);
        expect(readdirSync(dir)).not.toContain(c.name);
      }
    });
  }

  test("error messages say what is wrong and where", async () => {
    const byName = new Map(invalid.cases.map((c) => [c.name, Buffer.from(c.nar_base64, "base64")]));
    const expectations: Array<[string, RegExp]> = [
      ["name-dotdot", /bad NAR at byte \d+: invalid file name '\.\.'/],
      ["name-slash", /invalid file name 'a\/b'.*contains '\/'/],
      ["nonzero-padding", /bad NAR at byte \d+: non-zero padding/],
      ["bad-magic", /input doesn't look like a Nix archive/],
      ["unsorted", /entry 'a' is not sorted after 'b'/],
      ["duplicate-file", /duplicate entry 'a'/],
      ["truncated", /unexpected end-of-file at byte \d+/],
      ["trailing-data", /trailing data after the end of the archive/],
      ["unknown-type", /unknown file type 'fifo'/],
      ["executable-nonempty", /executable marker has non-empty value/],
    ];
    for (const [name, pattern] of expectations) {
      await expect(restoreNar(bytesSource(byName.get(name)!), `${dir}/msg-${name}`, { requireEnd: true })).rejects.toThrow(pattern);
    }
  });

  test("an existing target is refused and left alone", async () => {
    const target = scratchDir("nar-existing");
    const nar = Buffer.from(invalid.cases.find((c) => c.name === "sorted-ok")!.nar_base64, "base64");
    await expect(restoreNar(bytesSource(nar), target)).rejects.toThrow("already exists");
    expect(readdirSync(target)).toEqual([]);
  });
});

describe("case hack", () => {
  const input = Buffer.from(invalid.case_hack.nar_base64, "base64");
  test("restore renames case-insensitive collisions; dump undoes it", async () => {
    const dir = scratchDir("case-hack");
    await restoreNar(bytesSource(input), `${dir}/t`, { caseHack: true, requireEnd: true });
    expect(readdirSync(`${dir}/t`).sort()).toEqual(invalid.case_hack.restored_names_with_use_case_hack_true);
    expect(dump(`${dir}/t`, true).equals(input)).toBe(true);
    expect(dump(`${dir}/t`, false).toString("base64")).toBe(invalid.case_hack.dump_with_use_case_hack_false_base64);
  });
});

test("listing gives types, sizes and content offsets", async () => {
  const c = hashes.cases.find((x) => x.name === "t-dir")!;
  const root = await listNar(bytesSource(Buffer.from((c as { nar_base64: string }).nar_base64, "base64")));
  expect(root.type).toBe("directory");
  if (root.type !== "directory") return;
  const names = [...root.entries.keys()];
  expect(names).toEqual(Object.keys((c.tree as { entries: object }).entries));
});
