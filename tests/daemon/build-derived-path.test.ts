/** DerivedPath strings of both protocol eras (worker-protocol.md 2.9), parsed and echoed as 2.8 does. */
import { describe, expect, test } from "bun:test";
import { parseDerivedPath, printDerivedPath } from "../../internal/daemon/derived-path.ts";

const STORE = "/nix/store";
const DRV = `${STORE}/z1lcjyr6iszmmlc52wr1453nhviw87q3-dependent.drv`;
const FILE = `${STORE}/pdy0npi0lwj5wvkyajvy9kw5qa2i94xy-hello.txt`;

const parse = (text: string, minor: number) => {
  const p = parseDerivedPath(STORE, text, minor);
  return p.kind === "opaque" ? { opaque: p.path.baseName } : { drv: p.drvPath.baseName, outputs: p.outputs ?? "all" };
};

describe("minor >= 30: DerivedPath syntax", () => {
  test("drv!out,dev names outputs (a set: sorted, without duplicates)", () => {
    expect(parse(`${DRV}!out,dev,out`, 34)).toEqual({ drv: "z1lcjyr6iszmmlc52wr1453nhviw87q3-dependent.drv", outputs: ["dev", "out"] });
  });

  test("drv!* is every output, as is an empty list", () => {
    expect(parse(`${DRV}!*`, 34)).toEqual({ drv: "z1lcjyr6iszmmlc52wr1453nhviw87q3-dependent.drv", outputs: "all" });
    expect(parse(`${DRV}!`, 30)).toEqual({ drv: "z1lcjyr6iszmmlc52wr1453nhviw87q3-dependent.drv", outputs: "all" });
  });

  test("a path without '!' is opaque, a .drv included (the file itself is wanted)", () => {
    expect(parse(FILE, 34)).toEqual({ opaque: "pdy0npi0lwj5wvkyajvy9kw5qa2i94xy-hello.txt" });
    expect(parse(DRV, 34)).toEqual({ opaque: "z1lcjyr6iszmmlc52wr1453nhviw87q3-dependent.drv" });
  });
});

describe("minor < 30: path[!outputs] strings", () => {
  test("a bare .drv means all of its outputs", () => {
    expect(parse(DRV, 29)).toEqual({ drv: "z1lcjyr6iszmmlc52wr1453nhviw87q3-dependent.drv", outputs: "all" });
  });

  test("drv!out names outputs; other paths are opaque", () => {
    expect(parse(`${DRV}!out`, 19)).toEqual({ drv: "z1lcjyr6iszmmlc52wr1453nhviw87q3-dependent.drv", outputs: ["out"] });
    expect(parse(FILE, 19)).toEqual({ opaque: "pdy0npi0lwj5wvkyajvy9kw5qa2i94xy-hello.txt" });
  });
});

describe("echoing a request (BuildResult.path)", () => {
  test("in the new syntax, '!*' for all outputs", () => {
    for (const text of [`${DRV}!out`, `${DRV}!dev,out`, `${DRV}!*`, FILE]) expect(printDerivedPath(STORE, parseDerivedPath(STORE, text, 34))).toBe(text);
    expect(printDerivedPath(STORE, parseDerivedPath(STORE, DRV, 25))).toBe(`${DRV}!*`);
  });
});

test("a path outside the store fails to parse, naming it", () => {
  expect(() => parseDerivedPath(STORE, "/tmp/x-y.drv!out", 34)).toThrow("/tmp/x-y.drv");
});
