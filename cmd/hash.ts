/**
 * `bunix hash`: hashes of trees (as NARs) and files, and conversions between
 * hash encodings. Defaults follow `nix hash`: sha256, printed as SRI.
 */
import type { CAC } from "cac";
import { parseHash } from "../internal/hash/hash.ts";
import { commandGroup, out, runCac, single, strings } from "./cli.ts";
import { type HashMode, algorithmFlag, chooseEncoding, hashOne } from "./hashing.ts";

interface HashFlags {
  type?: unknown;
  base16?: boolean;
  base32?: boolean;
  base64?: boolean;
  sri?: boolean;
  truncate?: boolean;
}

function encodingOptions(cli: ReturnType<CAC["command"]>): void {
  cli
    .option("--base16", "Print in hexadecimal")
    .option("--base32", "Print in Nix base-32")
    .option("--base64", "Print in base-64")
    .option("--sri", "Print as SRI, e.g. sha256-... (the default)");
}

function hashCommand(mode: HashMode) {
  return (paths: string[], flags: HashFlags) => {
    const request = {
      mode,
      algorithm: algorithmFlag(single(flags.type, "--type"), "sha256"),
      encoding: chooseEncoding(flags, "sri"),
      truncate: flags.truncate === true,
    };
    for (const path of strings(paths)) out(`${hashOne(path, request)}\n`);
  };
}

function convertCommand(encoding: "base16" | "base32" | "base64" | "sri") {
  return (hashes: string[], flags: HashFlags) => {
    const type = single(flags.type, "--type");
    const context = type === undefined ? undefined : algorithmFlag(type, "sha256");
    for (const text of strings(hashes)) out(`${parseHash(text, context).format(encoding)}\n`);
  };
}

export function hashCli(): CAC {
  const cli = commandGroup("bunix hash");
  for (const mode of ["path", "file"] as const) {
    const command = cli
      .command(`${mode} <...paths>`, mode === "path" ? "Hash the NAR serialisation of each path (like nix-hash)" : "Hash the contents of each regular file (like nix-hash --flat)")
      .option("--type <algo>", "md5, sha1, sha256 or sha512 (default: sha256)")
      .option("--truncate", "Fold the hash to 160 bits (base-16/base-32 only)");
    encodingOptions(command);
    command.action(hashCommand(mode));
  }
  for (const encoding of ["base16", "base32", "base64", "sri"] as const) {
    cli
      .command(`to-${encoding} <...hashes>`, `Convert hashes to ${encoding === "sri" ? "SRI" : encoding}`)
      .option("--type <algo>", "The algorithm of hashes that do not name one")
      .action(convertCommand(encoding));
  }
  return cli;
}

export const run = (argv: readonly string[]) => runCac(hashCli(), argv);
