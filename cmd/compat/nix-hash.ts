/**
 * The `nix-hash` alias: `nix-hash [--flat] [--base32] [--truncate] [--type T] PATH...`
 * and `nix-hash --to-base16|--to-base32 [--type T] HASH...`, as in Nix 2.8
 * (default md5, base-16). `--base64` and `--sri` are accepted as extensions.
 */
import { parseHash } from "../../internal/hash/hash.ts";
import type { HashEncoding } from "../../internal/hash/hash.ts";
import { NIX_VERSION, out, reportError } from "../cli.ts";
import { algorithmFlag, hashOne } from "../hashing.ts";
import { NixArgs } from "./nix-args.ts";

const HELP = `Usage: nix-hash [--flat] [--base32] [--truncate] [--type ALGO] PATH...
       nix-hash --to-base16|--to-base32 [--type ALGO] HASH...

Compute the hash of each PATH's NAR serialisation (or, with --flat, of the
file's bytes). ALGO is md5 (the default), sha1, sha256 or sha512.
`;

export function nixHash(argv: readonly string[]): number {
  try {
    const args = new NixArgs(argv, "nix-hash");
    let flat = false;
    let truncate = false;
    let encoding: HashEncoding = "base16";
    let type: string | undefined;
    let convert: "base16" | "base32" | undefined;
    const operands: string[] = [];
    for (let arg = args.next(); arg; arg = args.next()) {
      if (!arg.flag) {
        operands.push(arg.word);
        continue;
      }
      switch (arg.word) {
        case "--help":
          out(HELP);
          return 0;
        case "--version":
          out(`nix-hash (bunix) ${NIX_VERSION}\n`);
          return 0;
        case "--flat":
          flat = true;
          break;
        case "--base32":
          encoding = "base32";
          break;
        case "--base64":
          encoding = "base64";
          break;
        case "--sri":
          encoding = "sri";
          break;
        case "--truncate":
          truncate = true;
          break;
        case "--type":
          type = args.value(arg.word);
          break;
        case "--to-base16":
          convert = "base16";
          break;
        case "--to-base32":
          convert = "base32";
          break;
        default:
          args.unrecognised(arg.word);
      }
    }
    const algorithm = algorithmFlag(type, "md5");
    if (convert !== undefined) {
      for (const text of operands) out(`${parseHash(text, algorithm).format(convert)}\n`);
      return 0;
    }
    const request = { mode: flat ? ("file" as const) : ("path" as const), algorithm, encoding, truncate };
    for (const path of operands) out(`${hashOne(path, request)}\n`);
    return 0;
  } catch (error) {
    return reportError(error, "nix-hash --help");
  }
}
