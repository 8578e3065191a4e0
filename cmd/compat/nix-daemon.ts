/** The `nix-daemon` alias: nix-daemon's flags mapped onto `bunix daemon`. */
import { NIX_VERSION, addCommandLineSetting, out, reportError } from "../cli.ts";
import { runDaemon } from "../daemon.ts";
import { NixArgs } from "./nix-args.ts";

const HELP = `Usage: nix-daemon [--daemon | --stdio] [--option NAME VALUE]...

Serves the Nix worker protocol on the daemon socket
($NIX_DAEMON_SOCKET_PATH or <state dir>/daemon-socket/socket), or one
connection on stdin/stdout with --stdio.
`;

export async function nixDaemon(argv: readonly string[]): Promise<number> {
  try {
    const args = new NixArgs(argv, "nix-daemon");
    let stdio = false;
    for (let next = args.next(); next !== undefined; next = args.next()) {
      const { word } = next;
      if (word === "--version") {
        out(`nix-daemon (Nix) ${NIX_VERSION}\n`);
        return 0;
      }
      if (word === "--help") {
        out(HELP);
        return 0;
      }
      if (word === "--daemon") continue;
      if (word === "--stdio") stdio = true;
      else if (word === "--option") addCommandLineSetting(args.value("--option"), args.value("--option"));
      else args.unrecognised(word);
    }
    return await runDaemon({ stdio });
  } catch (error) {
    return reportError(error, "nix-daemon --help");
  }
}
