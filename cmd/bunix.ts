/**
 * `bunix <command> ...`: dispatches to a command group. Each group parses
 * its own flags (cac) in its own module; this file only knows their names.
 */
import { UsageError } from "../internal/errors.ts";
import { NIX_VERSION, VERSION, out, reportError } from "./cli.ts";

type Runner = (argv: readonly string[]) => Promise<number> | number;

interface Group {
  readonly summary: string;
  readonly load: () => Promise<Runner>;
}

const GROUPS: Readonly<Record<string, Group>> = {
  hash: { summary: "Hash files and trees; convert hash encodings", load: async () => (await import("./hash.ts")).run },
  nar: { summary: "Dump, restore and inspect NAR archives", load: async () => (await import("./nar.ts")).run },
  store: { summary: "The local store: add, query, verify, export/import, ...", load: async () => (await import("./store/index.ts")).run },
  gc: { summary: "Collect garbage: delete unreachable store paths, print roots, live or dead paths", load: async () => (await import("./gc.ts")).run },
  drv: { summary: "Show derivations and compute their paths", load: async () => (await import("./drv.ts")).run },
  build: { summary: "Build derivations in the sandbox", load: async () => (await import("./build.ts")).run },
  daemon: { summary: "Serve the Nix worker protocol to Nix clients (nix-daemon)", load: async () => (await import("./daemon.ts")).run },
};

/** Nix's tools, reachable as `bunix nix-store ...` as well as through a symlink. */
export const ALIASES: Readonly<Record<string, () => Promise<Runner>>> = {
  "nix-store": async () => (await import("./compat/nix-store/index.ts")).nixStore,
  "nix-hash": async () => (await import("./compat/nix-hash.ts")).nixHash,
  "nix-daemon": async () => (await import("./compat/nix-daemon.ts")).nixDaemon,
};

function help(): string {
  const width = Math.max(...Object.keys(GROUPS).map((k) => k.length));
  const lines = Object.entries(GROUPS).map(([name, g]) => `  ${name.padEnd(width)}  ${g.summary}`);
  return `bunix ${VERSION} - a Nix ${NIX_VERSION} compatible store in one executable

Usage: bunix <command> <subcommand> [options]

Commands:
${lines.join("\n")}

Run 'bunix <command> --help' for a command's subcommands and options.
Installed (or symlinked) as nix-store, nix-hash or nix-daemon, bunix takes
those tools' flags; 'bunix nix-store ...' does the same.
`;
}

export async function bunix(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    out(help());
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-V") {
    out(`bunix ${VERSION} (Nix ${NIX_VERSION} compatible)\n`);
    return 0;
  }
  const group = GROUPS[first];
  if (group) return (await group.load())(rest);
  const alias = ALIASES[first];
  if (alias) return (await alias())(rest);
  return reportError(new UsageError(`unknown command '${first}'`), "bunix --help");
}
