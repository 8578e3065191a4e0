/**
 * How builds look while they run: on a terminal, one status line (how many
 * are done and left, what is building, its last log line, escape sequences
 * filtered); with --print-build-logs (or off a terminal, for the nix-store
 * alias), every log line on stderr, prefixed with the derivation's name.
 */
import type { BuildEvent } from "../internal/build/scheduler.ts";
import type { StorePath } from "../internal/store-path/store-path.ts";
import { filterTerminalEscapes } from "../internal/text/ansi.ts";
import { Progress } from "./progress.ts";

export interface DisplayOptions {
  printLogs: boolean;
  /** Prefix lines with "<name>> " (nix build -L) or print them raw (nix-build). */
  prefix: boolean;
  /** A derivation's full path, for "building '...'" lines. */
  print?: (drvPath: StorePath) => string;
}

export function buildDisplay(options: DisplayOptions): { onEvent: (event: BuildEvent) => void; finish: () => void } {
  const progress = new Progress();
  let total = 0;
  let built = 0;
  const running = new Map<string, string>();
  const show = () => {
    const names = [...running.keys()];
    const current = names[names.length - 1];
    const last = current ? running.get(current) : undefined;
    progress.update(`[${built}/${total} built${running.size > 0 ? `, ${running.size} running` : ""}]${current ? ` building ${current}` : ""}${last ? `: ${last}` : ""}`);
  };
  return {
    onEvent: (event) => {
      switch (event.type) {
        case "planned":
          total = event.total;
          break;
        case "started":
          running.set(event.drvPath.derivationName, "");
          if (options.printLogs || !process.stderr.isTTY) {
            progress.done();
            process.stderr.write(`building '${options.print ? options.print(event.drvPath) : event.drvPath.toString()}'...\n`);
          }
          break;
        case "built":
          built++;
          running.delete(event.drvPath.derivationName);
          break;
        case "failed":
          running.delete(event.drvPath.derivationName);
          break;
        case "log": {
          const line = filterTerminalEscapes(event.line);
          running.set(event.drvPath.derivationName, line);
          if (options.printLogs) {
            progress.done();
            process.stderr.write(options.prefix ? `${event.drvPath.derivationName}> ${line}\n` : `${line}\n`);
          }
          break;
        }
      }
      show();
    },
    finish: () => progress.done(),
  };
}
