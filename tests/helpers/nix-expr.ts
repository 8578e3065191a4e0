/**
 * Nix expressions defining derivations for differential tests: a fixed set
 * covering every feature (multiple outputs, fixed outputs of every method and
 * algorithm, chains, special attributes, structured attrs, escapes, sources),
 * plus randomly generated ones with random dependencies.
 */
import type { Random } from "./random.ts";

/** A Nix string literal for arbitrary (NUL-free) text. */
export function nixString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\$\{/g, "\\${").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")}"`;
}

export const FIXED_SET = String.raw`
  sys = "x86_64-linux";
  sh = "/bin/sh";
  mk = attrs: derivation ({ system = sys; builder = sh; } // attrs);
  src = builtins.toFile "src.txt" "some source\n";
  srcRef = builtins.toFile "ref.txt" "refers to ${"$"}{src}\n";

  plain = mk { name = "plain"; args = [ "-c" "echo hi > $out" ]; };
  multi = mk { name = "multi"; outputs = [ "out" "dev" "lib" "man" ]; args = [ "-c" "true" ]; };
  multiOrder = mk { name = "multi-order"; outputs = [ "zz" "aa" "out" ]; args = [ "-c" "true" ]; };
  foFlatSha256 = mk { name = "fo-flat-sha256"; outputHash = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq"; outputHashAlgo = "sha256"; };
  foFlatMd5 = mk { name = "fo-flat-md5"; outputHash = "b1946ac92492d2347c6235b4d2611184"; outputHashAlgo = "md5"; };
  foFlatSha1Sri = mk { name = "fo-flat-sha1"; outputHash = "sha1-9XLTlvrpIGYocU+yzgD3LpTyJY8="; };
  foFlatSha512 = mk { name = "fo-flat-sha512"; outputHashAlgo = "sha512"; outputHash = "0lrc0dwnvipqviibf7qfm1y492qvjwb1zhkcyi05cndmva1mr5gjcgrnz1x36djmk0sfg8djd2n0qv68vib2jg590mwznar9jcjphp7"; };
  foRecSha256 = mk { name = "fo-rec-sha256"; outputHashMode = "recursive"; outputHash = "sha256-bD3v16teE2SpiEBqTsuswHMnFoaIgaGhaiIcr6Nrsk4="; };
  foRecSha1 = mk { name = "fo-rec-sha1"; outputHashMode = "recursive"; outputHashAlgo = "sha1"; outputHash = "06c52572aa4ee661b5224951ddb2a64ed50925f3"; };
  foRecMd5 = mk { name = "fo-rec-md5"; outputHashMode = "recursive"; outputHashAlgo = "md5"; outputHash = "b1946ac92492d2347c6235b4d2611184"; };
  foRecSha512 = mk { name = "fo-rec-sha512"; outputHashMode = "recursive"; outputHash = "sha512-58IrmUxZ2c8rSOVJseJGZmNgRZMNPafBrLKZ0cO3+TH5Sq5B7dosKyB6NuEPi8uNRSI+VIePWzFufOO2vAGWKQ=="; };
  foFlatSameAsSha256 = mk { name = "fo-flat-sha256"; args = [ "different" ]; outputHash = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq"; outputHashAlgo = "sha256"; };
  chain1 = mk { name = "chain1"; args = [ "-c" "echo ${"$"}{plain} > $out" ]; };
  chain2 = mk { name = "chain2"; dep = chain1; dev = multi.dev; };
  chain3 = mk { name = "chain3"; dep = chain2; fixed = foFlatSha256; };
  chain4 = mk { name = "chain4"; dep = chain3; lib = multi.lib; man = multi.man; };
  chain5 = mk { name = "chain5"; dep = chain4; both = [ foFlatSha256 foFlatSameAsSha256 ]; src = srcRef; };
  special = mk {
    name = "special";
    args = [ "-c" "echo ${"$"}{plain} > $out" ];
    allowedReferences = [ plain ]; allowedRequisites = [ plain "out" ];
    disallowedReferences = [ foFlatMd5 ]; disallowedRequisites = [ ];
    preferLocalBuild = true; allowSubstitutes = false;
    impureEnvVars = [ "http_proxy" "FOO" ]; passAsFile = [ "bigText" ]; bigText = "line1\nline2\n";
    exportReferencesGraph = [ "graph" plain ]; requiredSystemFeatures = [ "kvm" ]; __noChroot = true;
    anInt = 42; aNull = null; aFalse = false; aList = [ "a" 1 "c" ];
  };
  structured = mk {
    name = "structured"; __structuredAttrs = true; outputs = [ "out" "doc" ];
    args = [ "-c" "echo ${"$"}{builtins.placeholder "out"} ${"$"}{builtins.placeholder "doc"}" ];
    anInt = 42; aBool = true; aList = [ "a" 1 null ]; anAttrset = { x = "y"; z = [ plain ]; };
    outputChecks = { out = { allowedReferences = [ ]; maxSize = 4096; }; };
  };
  escapes = mk {
    name = "escapes";
    weird = "quote\" backslash\\ newline\n tab\t cr\r unicode-é-日本-😀 dollar\${x}";
    control = builtins.fromJSON "\"\\u0001\\u0008\\u000c\\u001f\\u007f end\"";
    args = [ "-c" "printf '%s' \"$weird\"" "\\" "" ];
  };
  withSources = mk { name = "with-sources"; a = src; b = srcRef; c = ./expr-src; };
  drvRef = mk { name = "drv-ref"; d = chain2.drvPath; };
  ignoreNulls = mk { name = "ignore-nulls"; __ignoreNulls = true; gone = null; kept = "k"; };
`;

export interface Generated {
  /** The body of a `rec { ... }` attribute set (without braces). */
  body: string;
  /** Attribute names of the derivations to compare. */
  names: string[];
}

const FIXED_NAMES = [
  "plain", "multi", "multiOrder", "foFlatSha256", "foFlatMd5", "foFlatSha1Sri", "foFlatSha512", "foRecSha256", "foRecSha1",
  "foRecMd5", "foRecSha512", "foFlatSameAsSha256", "chain1", "chain2", "chain3", "chain4", "chain5", "special",
  "structured", "escapes", "withSources", "drvRef", "ignoreNulls",
];

const TEXT_POOL = ["", "plain", "with space", "ünïcødé", "日本語", "😀", 'q"uote', "back\\slash", "new\nline", "tab\t", "cr\r", "$dollar", "a=b;c", "x".repeat(300)];

/** Random derivations d0..dN-1 depending on earlier ones and on the fixed set. */
export function generate(rng: Random, count: number): Generated {
  const lines: string[] = [FIXED_SET];
  const names = [...FIXED_NAMES];
  const outputsOf = new Map<string, string[]>([["plain", ["out"]], ["multi", ["out", "dev", "lib", "man"]], ["chain5", ["out"]]]);
  for (let i = 0; i < count; i++) {
    const name = `d${i}`;
    const fixed = rng.chance(0.15);
    const outputs = fixed ? ["out"] : rng.chance(0.3) ? ["out", ...["bin", "dev", "doc", "lib"].filter(() => rng.chance(0.5))] : ["out"];
    const attrs: string[] = [`name = ${nixString(`gen-${i}${rng.chance(0.2) ? "-x.y_z+1" : ""}`)};`];
    if (outputs.length > 1) attrs.push(`outputs = [ ${outputs.map((o) => nixString(o)).join(" ")} ];`);
    const env = rng.int(5);
    for (let k = 0; k < env; k++) attrs.push(`v${k} = ${nixString(rng.pick(TEXT_POOL) + rng.pick(TEXT_POOL))};`);
    const candidates = [...outputsOf.keys()];
    const deps = rng.int(4);
    for (let k = 0; k < deps && candidates.length > 0; k++) {
      const dep = rng.pick(candidates);
      const out = rng.pick(outputsOf.get(dep)!);
      attrs.push(`dep${k} = ${dep}.${out};`);
    }
    if (rng.chance(0.2)) attrs.push(`refs = "\${src} and \${foFlatMd5}";`);
    attrs.push(`args = [ ${[...Array(rng.int(4))].map(() => nixString(rng.pick(TEXT_POOL))).join(" ")} ];`);
    if (fixed) {
      const algo = rng.pick(["md5", "sha1", "sha256", "sha512"]);
      const size = { md5: 16, sha1: 20, sha256: 32, sha512: 64 }[algo]!;
      attrs.push(`outputHashAlgo = "${algo}";`, `outputHash = "${Buffer.from(rng.bytes(size)).toString("hex")}";`);
      if (rng.chance(0.5)) attrs.push(`outputHashMode = "recursive";`);
    }
    lines.push(`  ${name} = mk { ${attrs.join(" ")} };`);
    outputsOf.set(name, outputs);
    names.push(name);
  }
  return { body: lines.join("\n"), names };
}
