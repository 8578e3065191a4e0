/**
 * `bunix store export`, `import`, `dump-db` and `load-db`: moving store
 * objects and database contents between stores (nix-store --export/--import,
 * --dump-db/--load-db). The shared pieces are used by the nix-store alias too.
 */
import type { CAC } from "cac";
import { UsageError } from "../../internal/errors.ts";
import type { StorePath } from "../../internal/store-path/store-path.ts";
import { dumpDb } from "../../internal/store/dump-db.ts";
import { exportPaths } from "../../internal/store/export.ts";
import { importPaths } from "../../internal/store/import.ts";
import { loadDb } from "../../internal/store/load-db.ts";
import type { LocalStore } from "../../internal/store/local-store.ts";
import { type ByteSource, fileSource } from "../../internal/stream/byte-source.ts";
import { fdChunks } from "../../internal/stream/file-chunks.ts";
import { out, outBytes, strings } from "../cli.ts";
import { Progress } from "../progress.ts";
import { type StoreFlags, openStore, withStoreOptions } from "../store-options.ts";
import { storePathArgument } from "./arguments.ts";

/** Text output is gathered into pieces of about this size before writing. */
const OUTPUT_BATCH = 64 << 10;

/** The export stream to stdout, with progress on a terminal. */
export function exportToStdout(store: LocalStore, paths: readonly StorePath[]): void {
  const progress = new Progress();
  try {
    exportPaths(store, paths, outBytes, { onPath: (path, i, n) => progress.update(`exporting [${i + 1}/${n}] ${store.print(path)}`) });
  } finally {
    progress.done();
  }
}

/** Standard input as a byte source; it must not be a terminal. */
export function stdinStream(what: string): ByteSource {
  if (process.stdin.isTTY) throw new UsageError(`refusing to read ${what} from a terminal: pipe it into standard input`);
  return fileSource("-");
}

/** All of standard input, each byte one char (store paths are ASCII; nothing is lost). */
export function readStdinText(what: string): string {
  if (process.stdin.isTTY) throw new UsageError(`refusing to read ${what} from a terminal: pipe it into standard input`);
  const parts: Buffer[] = [];
  for (const chunk of fdChunks(0)) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString("latin1");
}

/** Writes the `--dump-db` text of `paths` (all valid paths when undefined). */
export function printDumpDb(store: LocalStore, paths: readonly StorePath[] | undefined): void {
  let pending = "";
  for (const block of dumpDb(store, paths)) {
    pending += block;
    if (pending.length >= OUTPUT_BATCH) {
      out(pending);
      pending = "";
    }
  }
  if (pending !== "") out(pending);
}

function withStore<T>(flags: StoreFlags, mode: "read" | "write", action: (store: LocalStore) => T): T {
  const store = openStore(flags, mode);
  try {
    return action(store);
  } finally {
    store.close();
  }
}

function exportCommand(args: string[], flags: StoreFlags): void {
  if (process.stdout.isTTY) throw new UsageError("refusing to write an export stream to a terminal: redirect standard output to a file or a pipe");
  withStore(flags, "read", (store) =>
    exportToStdout(
      store,
      strings(args).map((a) => storePathArgument(store, a)),
    ),
  );
}

async function importCommand(flags: StoreFlags): Promise<void> {
  const source = stdinStream("an export stream");
  const store = openStore(flags, "write");
  try {
    await importPaths(store, source, { onImported: (path) => out(`${store.print(path)}\n`) });
  } finally {
    store.close();
  }
}

function dumpDbCommand(args: string[], flags: StoreFlags): void {
  withStore(flags, "read", (store) => {
    const list = strings(args);
    printDumpDb(store, list.length === 0 ? undefined : list.map((a) => storePathArgument(store, a)));
  });
}

function loadDbCommand(flags: StoreFlags): void {
  const text = readStdinText("a --dump-db text");
  withStore(flags, "write", (store) => loadDb(store, text));
}

export function registerTransfer(cli: CAC): void {
  withStoreOptions(
    cli.command("export <...paths>", "Write the given paths (not their closure) as an export stream to stdout, references first (nix-store --export)"),
  ).action(exportCommand);
  withStoreOptions(cli.command("import", "Import an export stream from stdin and print the imported paths (nix-store --import)")).action(importCommand);
  withStoreOptions(
    cli.command("dump-db [...paths]", "Print the database entries of the given paths, or of all valid paths, as text (nix-store --dump-db)"),
  ).action(dumpDbCommand);
  withStoreOptions(cli.command("load-db", "Register every entry of a dump-db text read from stdin, in one transaction (nix-store --load-db)")).action(
    loadDbCommand,
  );
}
