/**
 * Worker-protocol vectors captured from real Nix 2.8 (tests/fixtures/worker,
 * see its README): the raw bytes of both directions, and a replay that sends
 * a vector's client bytes to a daemon and returns what it answered. Fields
 * that differ from run to run (registration times) are masked, found by their
 * annotation in the vector's transcript.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "../helpers/nix.ts";

const DIR = join(PROJECT, "tests/fixtures/worker");

export interface Vector {
  readonly name: string;
  /** Client to server. */
  readonly c2s: Uint8Array;
  /** Server to client, as real nix-daemon sent it. */
  readonly s2c: Uint8Array;
  /** [offset, length] ranges of s2c that vary between runs. */
  readonly masks: ReadonlyArray<readonly [number, number]>;
}

function hexFile(path: string): Uint8Array {
  return Buffer.from(readFileSync(path, "utf8").replace(/\s+/g, ""), "hex");
}

export function loadVector(name: string): Vector {
  const masks: Array<[number, number]> = [];
  for (const line of readFileSync(join(DIR, `${name}.txt`), "utf8").split("\n")) {
    const match = /^S->C ([0-9a-f]{6}) .*registrationTime/.exec(line);
    if (match) masks.push([Number.parseInt(match[1]!, 16), 8]);
  }
  // These were captured through a proxy that rewrote the daemon's version word.
  if (name.startsWith("old-daemon-")) masks.push([8, 8]);
  return { name, c2s: hexFile(join(DIR, `${name}.c2s.hex`)), s2c: hexFile(join(DIR, `${name}.s2c.hex`)), masks };
}

/** A copy of `bytes` with the vector's varying ranges zeroed. */
export function masked(bytes: Uint8Array, vector: Vector): Buffer {
  const out = Buffer.from(bytes);
  for (const [at, length] of vector.masks) if (at + length <= out.length) out.fill(0, at, at + length);
  return out;
}

/**
 * Sends the vector's client bytes to `socket` and collects the answer until
 * the daemon closes, or it has sent at least as much as the vector and then
 * fallen quiet. `asUser` runs the client as another user (setpriv).
 */
export function replay(socket: string, vector: Vector, asUser?: { uid: number; gid: number }): Buffer {
  const script = join(PROJECT, "tests/daemon/replay-vector.ts");
  const prefix = asUser ? ["setpriv", `--reuid=${asUser.uid}`, `--regid=${asUser.gid}`, "--clear-groups", "--"] : [];
  const result = Bun.spawnSync([...prefix, process.execPath, script, socket, String(vector.s2c.length)], {
    stdin: Buffer.from(vector.c2s),
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  if (result.exitCode !== 0) throw new Error(`replaying ${vector.name} failed: ${result.stderr.toString()}`);
  return Buffer.from(result.stdout.toString().trim(), "hex");
}
