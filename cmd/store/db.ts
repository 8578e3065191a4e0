/**
 * `bunix store db rebuild`: recreate a lost or corrupt store database from
 * the objects in the store directory, and say plainly what could not be
 * recovered. It never opens the old database (it may be what is broken).
 */
import type { CAC } from "cac";
import { UsageError } from "../../internal/errors.ts";
import { type RebuildEvent, type RebuildReport, rebuildDatabase } from "../../internal/store/rebuild-db.ts";
import { out } from "../cli.ts";
import { Progress } from "../progress.ts";
import { type StoreFlags, commandSettings, storeLocation, withStoreOptions } from "../store-options.ts";

interface DbFlags extends StoreFlags {
  json?: boolean;
}

/** Lists at most `limit` items, then how many more there are. */
function listing(items: readonly string[], limit = 20): string {
  const shown = items.slice(0, limit).map((i) => `    ${i}\n`);
  return shown.join("") + (items.length > limit ? `    ... and ${items.length - limit} more (--json lists all)\n` : "");
}

function textReport(r: RebuildReport): string {
  let text = `rebuilt '${r.database}' from ${r.storeDir}\n`;
  text += r.movedAside.length > 0 ? `  the old database was moved to '${r.movedAside[0]}'\n` : "  there was no old database\n";
  const ca = r.contentAddressed;
  text += `registered ${r.registered} paths with ${r.references} references; ${r.withDeriver} with a deriver; content addresses: ${ca.text} text, ${ca.source} source, ${ca.fixed} fixed-output\n`;
  if (r.skipped.length > 0) text += `left alone (${r.skipped.length} entries that are not store objects):\n${listing(r.skipped.map((s) => `${s.name}: ${s.reason}`))}`;
  if (r.unreadable.length > 0) text += `NOT registered (${r.unreadable.length} objects that could not be read):\n${listing(r.unreadable.map((u) => `${u.name}: ${u.error}`))}`;
  if (r.suspicious.length > 0) text += `registered, but not canonical at the top (possibly left unfinished by a crash; check with 'bunix store verify --check-contents'):\n${listing(r.suspicious.map((s) => `${s.path}: ${s.reason}`))}`;
  const f = r.findings;
  if (f.badDerivations.length > 0) text += `.drv files that could not be parsed (registered without outputs):\n${listing(f.badDerivations.map((b) => `${b.path}: ${b.error}`))}`;
  if (f.droppedReferences.length > 0) text += `references left out:\n${listing(f.droppedReferences.map((d) => `${d.from} -> ${d.to}: ${d.reason}`))}`;
  if (f.ambiguousDerivers.length > 0) {
    text += `paths that several present .drv files produce (the first was recorded as deriver):\n${listing(f.ambiguousDerivers.map((a) => `${a.path}: ${a.chosen} (also ${a.others.join(", ")})`))}`;
  }
  if (f.fixedOutputMismatches.length > 0) text += `fixed outputs whose contents do not have the declared hash (no content address recorded):\n${listing(f.fixedOutputMismatches.map((m) => `${m.path}: ${m.detail}`))}`;
  text += "could not be recovered:\n";
  for (const item of r.lost.always) text += `  - ${item}\n`;
  text += `  - derivers of ${r.lost.derivers.length} paths (their .drv is not in the store)\n${listing(r.lost.derivers)}`;
  text += `  - content addresses of ${r.lost.contentAddresses.length} paths that may have had one (nothing proves it)\n${listing(r.lost.contentAddresses)}`;
  return text;
}

function rebuild(flags: DbFlags): void {
  const settings = commandSettings();
  const location = storeLocation(flags, settings);
  const progress = new Progress();
  const onEvent = (event: RebuildEvent): void => {
    if (event.type === "waiting") {
      progress.done();
      process.stderr.write(`${event.message}\n`);
    } else progress.update(`${event.phase} [${event.done + 1}/${event.total}] ${event.item}`);
  };
  try {
    const report = rebuildDatabase(location, settings, { onEvent });
    progress.done();
    out(flags.json ? `${JSON.stringify(report)}\n` : textReport(report));
  } finally {
    progress.done();
  }
}

export function registerDb(cli: CAC): void {
  withStoreOptions(
    cli
      .command("db <action>", "Store database maintenance. 'rebuild': recreate a lost or corrupt database from the store directory (the old one is kept as db.sqlite.broken-<time>)")
      .option("--json", "Print the report as JSON"),
  ).action((action: unknown, flags: DbFlags) => {
    if (String(action) !== "rebuild") throw new UsageError(`unknown action '${String(action)}' for 'bunix store db' (known: rebuild)`);
    rebuild(flags);
  });
}
