/**
 * Compiles launcher.c with bun:ffi's TinyCC (once per process) and starts
 * processes with it. TinyCC cannot read files embedded in the executable, so
 * the source is written to a private temporary file (0600 in a 0700
 * directory) first.
 */
import { cc, ptr } from "bun:ffi";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrnoError } from "../../ffi/errno.ts";
import launcherSource from "./launcher.c" with { type: "text" };
import { type Operation, encodeOperations } from "./ops.ts";

type Launcher = ReturnType<typeof compile>;

function compile() {
  const dir = mkdtempSync(join(tmpdir(), "bunix-launcher-"));
  try {
    const file = join(dir, "launcher.c");
    writeFileSync(file, launcherSource, { mode: 0o600 });
    return cc({
      source: file,
      symbols: {
        bunix_launch: { args: ["ptr", "ptr", "ptr", "ptr", "ptr"], returns: "i32" },
        bunix_open_pty: { args: ["ptr"], returns: "i32" },
        bunix_kill_user: { args: ["u32"], returns: "i32" },
      },
    }).symbols;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let launcher: Launcher | undefined;
function get(): Launcher {
  launcher ??= compile();
  return launcher;
}

export interface Launched {
  /** The forked child (reaps the builder when there is a PID namespace). */
  pid: number;
  /** The process that runs (or will exec) the builder; kill this to stop the build. */
  builderPid: number | undefined;
  /** Read end of the report pipe (see launcher.c). */
  reportFd: number;
  /** When setup failed before the builder's process existed. */
  failure: { index: number; errno: number } | undefined;
}

export interface UserNamespaceMaps {
  uidMap: string;
  gidMap: string;
}

export function launch(operations: readonly Operation[], maps: UserNamespaceMaps | undefined, keepAlive: unknown[] = []): Launched {
  const encoded = encodeOperations(operations);
  const out = new Int32Array(5);
  const c = (s: string | undefined) => (s === undefined ? null : Buffer.from(`${s}\0`));
  const uidMap = c(maps?.uidMap);
  const gidMap = c(maps?.gidMap);
  const result = get().bunix_launch(ptr(encoded.ops), ptr(encoded.strings), uidMap === null ? null : ptr(uidMap), gidMap === null ? null : ptr(gidMap), ptr(out));
  void keepAlive;
  if (result < 0) throw new ErrnoError("fork", -result);
  return {
    pid: out[0]!,
    builderPid: out[2]! > 0 ? out[2]! : undefined,
    reportFd: out[1]!,
    failure: out[2]! > 0 ? undefined : out[3] !== 0 || out[4] !== 0 ? { index: out[3]!, errno: out[4]! } : undefined,
  };
}

/** A raw-mode pseudo-terminal: the builder's stdout/stderr. */
export function openPty(): { master: number; slave: number } {
  const out = new Int32Array(2);
  const result = get().bunix_open_pty(ptr(out));
  if (result < 0) throw new ErrnoError("posix_openpt", -result);
  return { master: out[0]!, slave: out[1]! };
}

/** Kills every process running as `uid` (never call with 0). */
export function killUser(uid: number): void {
  if (uid === 0) throw new Error("refusing to kill every process of root");
  const result = get().bunix_kill_user(uid);
  if (result < 0) throw new ErrnoError("kill", -result);
}
