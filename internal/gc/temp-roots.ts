/**
 * Reading every process's temporary roots (store-layout.md 4.4), collector
 * side. A file whose exclusive lock we can take belongs to a dead process:
 * it is removed and marked dead (a byte written into it) so that a process
 * that just opened it starts over. The others are read whole; their roots are
 * full store paths separated by NUL.
 */
import { closeSync, openSync, readFileSync, readdirSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { SystemError } from "../errors.ts";
import { tryLockFd } from "../store/locks.ts";

export interface TempRoot {
  readonly path: string;
  readonly pid: number;
}

export function readTempRoots(stateDir: string): TempRoot[] {
  const dir = join(stateDir, "temproots");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new SystemError(`reading '${dir}'`, error);
  }
  const roots: TempRoot[] = [];
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const file = join(dir, name);
    let fd: number;
    try {
      fd = openSync(file, "r+");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new SystemError(`opening temporary roots file '${file}'`, error);
    }
    try {
      if (tryLockFd(fd, "exclusive", file)) {
        try {
          unlinkSync(file);
        } catch {
          // gone already
        }
        writeSync(fd, "d");
        continue;
      }
      // "<pid>" (Nix) or "<pid>-<n>" (one bunix daemon connection): the leading digits, as Nix's std::stoi reads them.
      const pid = Number.parseInt(name, 10) || 0;
      for (const path of readFileSync(fd, "latin1").split("\0")) if (path !== "") roots.push({ path, pid });
    } finally {
      closeSync(fd);
    }
  }
  return roots;
}
