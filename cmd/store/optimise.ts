/** `bunix store optimise`: deduplicate identical files with hard links (nix-store --optimise). */
import type { CAC } from "cac";
import { optimiseStore, poolStats } from "../../internal/store/optimise.ts";
import type { LocalStore } from "../../internal/store/local-store.ts";
import { out } from "../cli.ts";
import { Progress } from "../progress.ts";
import { type StoreFlags, openStore, withStoreOptions } from "../store-options.ts";

const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;

/**
 * Optimises every valid path. The summary is Nix's line ("X MiB freed by
 * hard-linking N files"), on stderr as Nix prints it, or on stdout.
 */
export async function runOptimise(store: LocalStore, summaryToStdout: boolean): Promise<void> {
  const progress = new Progress();
  try {
    const stats = await optimiseStore(store, {
      log: (message) => {
        progress.done();
        process.stderr.write(`${message}\n`);
      },
      onProgress: (s, total) => progress.update(`optimising: ${s.pathsDone}/${total} paths, ${s.filesLinked} files linked, ${mib(s.bytesFreed)} freed`),
    });
    progress.done();
    const line = `${mib(stats.bytesFreed)} freed by hard-linking ${stats.filesLinked} files\n`;
    if (summaryToStdout) out(line);
    else process.stderr.write(line);
  } finally {
    progress.done();
  }
}

function printStats(store: LocalStore): void {
  const s = poolStats(store);
  const saved = s.logicalBytes - s.physicalBytes;
  const ratio = s.physicalBytes > 0 ? s.logicalBytes / s.physicalBytes : 1;
  out(
    `${s.entries} files in .links shared by ${s.linkedFiles} store files: ${mib(s.logicalBytes)} stored as ${mib(s.physicalBytes)}, ` +
      `${mib(saved)} saved (deduplication ratio ${ratio.toFixed(2)})\n`,
  );
}

async function optimiseCommand(flags: StoreFlags & { stats?: boolean }): Promise<void> {
  const store = openStore(flags, "write");
  try {
    if (flags.stats) printStats(store);
    else await runOptimise(store, true);
  } finally {
    store.close();
  }
}

export function registerOptimise(cli: CAC): void {
  withStoreOptions(
    cli
      .command("optimise", "Replace identical files in the store by hard links to one copy (nix-store --optimise)")
      .alias("optimize")
      .option("--stats", "Only report the deduplication in effect, from the link counts of .links"),
  ).action(optimiseCommand);
}
