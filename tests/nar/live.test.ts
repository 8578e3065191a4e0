// Live differential tests against real Nix 2.8: NAR dump and restore on 200
// random trees and on files over 100 MB.
import { beforeAll, describe, expect, test } from "bun:test";
import { getCorpus } from "../helpers/corpus.ts";
import { bunixBinary, nixEnv, requireNix, run, runDigest, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

let bunix: string;
beforeAll(() => {
  requireNix();
  bunix = bunixBinary();
});

describe("nar dump is byte-identical to nix-store --dump", () => {
  test("200 random trees", async () => {
    const { trees } = getCorpus();
    expect(trees.length).toBeGreaterThanOrEqual(200);
    for (const tree of trees) {
      const nix = await runDigest(["nix-store", "--dump", tree]);
      const ours = await runDigest([bunix, "nar", "dump", tree]);
      expect({ tree, ...ours }).toEqual({ tree, ...nix });
    }
  });

  test("files over 100 MB", async () => {
    for (const tree of getCorpus().bigTrees) {
      const nix = await runDigest(["nix-store", "--dump", tree]);
      const ours = await runDigest([bunix, "nar", "dump", tree]);
      expect(nix.size).toBeGreaterThan(100 * 1024 * 1024);
      expect(ours).toEqual(nix);
    }
  });

  test("with use-case-hack, both strip the markers (or both refuse a collision)", () => {
    for (const tree of getCorpus().trees.slice(0, 100)) {
      const nix = run(["nix-store", "--option", "use-case-hack", "true", "--dump", tree]);
      const ours = run([bunix, "nar", "dump", "--case-hack", tree]);
      expect({ tree, code: ours.code === 0 }).toEqual({ tree, code: nix.code === 0 });
      if (nix.code === 0) expect(ours.stdout.equals(nix.stdout)).toBe(true);
    }
  });
});

describe("restore", () => {
  test("bunix restores nix-store --dump streams to trees that re-dump identically, and Nix restores ours", () => {
    const out = scratchDir("restore-live");
    getCorpus().trees.forEach((tree, i) => {
      const nar = runOk(["nix-store", "--dump", tree]);
      runOk([bunix, "nar", "restore", `${out}/ours-${i}`], { stdin: nar });
      expect(runOk(["nix-store", "--dump", `${out}/ours-${i}`]).equals(nar)).toBe(true);
      const ours = runOk([bunix, "nar", "dump", tree]);
      runOk(["nix-store", "--restore", `${out}/nix-${i}`], { stdin: ours });
      expect(runOk([bunix, "nar", "dump", `${out}/nix-${i}`]).equals(nar)).toBe(true);
    });
  });

  test("a big file restores and re-dumps identically", async () => {
    const out = scratchDir("restore-big");
    const big = getCorpus().bigTrees[1]!;
    const dump = Bun.spawn(["nix-store", "--dump", big], { env: nixEnv(), stdout: "pipe" });
    const restore = Bun.spawn([bunix, "nar", "restore", `${out}/big`], { stdin: dump.stdout, stderr: "pipe" });
    expect(await restore.exited).toBe(0);
    expect(await runDigest([bunix, "nar", "dump", `${out}/big`])).toEqual(await runDigest(["nix-store", "--dump", big]));
  });
});
