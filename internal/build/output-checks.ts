/**
 * Checks on what a builder produced, before anything is changed on disk
 * (formats.md 6.5 steps 1-2): every entry must be owned by the build user and
 * not writable by group or others, and a file with several links must have
 * all of them inside the outputs. The last rule stops the hard-link attack
 * (`ln /etc/shadow $out/x`): canonicalising such a file would change the
 * foreign file's owner and mode.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BuildError } from "./errors.ts";

export interface OutputTree {
  /** Output name, for messages. */
  name: string;
  /** Where it is on disk now. */
  path: string;
}

/** Rejects outputs whose files are not entirely the build user's own. */
export function checkOutputOwnership(outputs: readonly OutputTree[], buildUid: number, drvPath: string): void {
  const links = new Map<string, { seen: number; nlink: number; file: string }>();
  const walk = (file: string, top: boolean) => {
    const st = lstatSync(file);
    if (st.uid !== buildUid) {
      throw new BuildError(`suspicious ownership or permission on '${file}' (owner uid ${st.uid}, not the build user's ${buildUid}); rejecting this build output of '${drvPath}'`);
    }
    if (!st.isSymbolicLink() && st.mode & 0o022 && top) {
      throw new BuildError(`suspicious ownership or permission on '${file}' (mode ${(st.mode & 0o7777).toString(8)}); rejecting this build output of '${drvPath}'`);
    }
    if (!st.isDirectory() && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const entry = links.get(key) ?? { seen: 0, nlink: st.nlink, file };
      entry.seen++;
      links.set(key, entry);
    }
    if (st.isDirectory()) for (const name of readdirSync(file)) walk(join(file, name), false);
  };
  for (const output of outputs) walk(output.path, true);
  for (const { seen, nlink, file } of links.values()) {
    if (seen < nlink) throw new BuildError(`'${file}' is a hard link to a file outside the build's outputs; rejecting this build output of '${drvPath}'`);
  }
}
