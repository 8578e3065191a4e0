/**
 * .attrs.json and .attrs.sh from a `__json` value, compared with what real
 * Nix 2.8 wrote for the same derivation (vectors recorded from a build by
 * nix-build; interop.live.test.ts compares live). Numbers are the tricky
 * part: nlohmann::json keeps 64-bit integers and reprints doubles in its own
 * form, and .attrs.sh truncates numbers to a C int.
 */
import { describe, expect, test } from "bun:test";
import { attrsShell, dumpJson, formatDouble, parseJsonLossless, toJson } from "../../internal/build/structured-attrs.ts";

const OUT = "/nix/store/ivg2l65cdgrp6wblgrkidarpzxn1fc76-probe";
const JSON_IN =
  '{"Z":3,"big":5000000000,"builder":"/bin/sh","f1":1e+20,"f10":-2.5,"f11":1.67772e+07,"f12":2.14748e+09,"f13":-2.14748e+09,"f14":1e-05,"f2":0.1,"f3":1e-07,"f4":1.23457e+08,"f5":3,"f6":0,"f7":0.00012345,"f8":1e+15,"f9":1e+16,"huge":9007199254740993,"l":[5000000000,2],"name":"probe","neg":-5000000000,"o":{"a":1,"b":1.5},"system":"x86_64-linux","z":2,"é":1}';
const JSON_OUT = `{"Z":3,"big":5000000000,"builder":"/bin/sh","f1":1e+20,"f10":-2.5,"f11":16777200.0,"f12":2147480000.0,"f13":-2147480000.0,"f14":1e-05,"f2":0.1,"f3":1e-07,"f4":123457000.0,"f5":3,"f6":0,"f7":0.00012345,"f8":1e+15,"f9":1e+16,"huge":9007199254740993,"l":[5000000000,2],"name":"probe","neg":-5000000000,"o":{"a":1,"b":1.5},"outputs":{"out":"${OUT}"},"system":"x86_64-linux","z":2,"é":1}`;
const SH_OUT = `declare Z=3
declare big=705032704
declare builder='/bin/sh'
declare f1=-2147483648
declare f11=16777200
declare f12=2147480000
declare f13=-2147480000
declare f4=123457000
declare f5=3
declare f6=0
declare f8=-2147483648
declare f9=-2147483648
declare huge=1
declare -a l=(705032704 2 )
declare name='probe'
declare neg=-705032704
declare -A outputs=(['out']='${OUT}' )
declare system='x86_64-linux'
declare z=2
`;

describe("structured attrs files", () => {
  test("the bytes Nix 2.8 wrote", () => {
    const json = parseJsonLossless(JSON_IN);
    if (!(json instanceof Map)) throw new Error("not an object");
    json.set("outputs", toJson({ out: OUT }));
    expect(dumpJson(json)).toBe(JSON_OUT);
    expect(attrsShell(json)).toBe(SH_OUT);
  });

  test("nlohmann's double forms", () => {
    const cases: Array<[number, string]> = [[0, "0.0"], [-0, "-0.0"], [1.5, "1.5"], [100, "100.0"], [1e14, "100000000000000.0"], [1e15, "1e+15"], [0.001, "0.001"], [0.0001, "0.0001"], [0.00001, "1e-05"], [1.2345e-300, "1.2345e-300"], [-2.5e21, "-2.5e+21"]];
    for (const [value, text] of cases) expect(formatDouble(value)).toBe(text);
  });

  test("strings, escapes and key order by bytes", () => {
    const json = parseJsonLossless('{"b":"tab\\t quote\\" \\u0001 é 😀","a":[true,false,null],"\\uffff":1,"😀":2}');
    expect(dumpJson(json)).toBe('{"a":[true,false,null],"b":"tab\\t quote\\" \\u0001 é 😀","\uffff":1,"😀":2}');
    expect(attrsShell(json as Map<string, never>)).toBe("declare -a a=(1  '' )\ndeclare b='tab\t quote\" \u0001 é 😀'\n");
  });

  test("invalid JSON is an error", () => {
    for (const bad of ["{", '{"a":}', "[1,]", '{"a":1} x', "01"]) expect(() => parseJsonLossless(bad)).toThrow("invalid JSON");
  });
});
