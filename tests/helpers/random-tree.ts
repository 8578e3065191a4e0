/**
 * Random file system trees for differential tests: regular files (empty,
 * small, larger, executable), symlinks (relative, absolute, dangling, long,
 * unicode), empty and nested directories, and names that are legal but odd
 * (unicode, invalid UTF-8, spaces, newlines, control bytes, leading dashes
 * and dots, case variants, 255-byte names, the case-hack marker).
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import type { Random } from "./random.ts";

const enc = (s: string) => Buffer.from(s, "utf8");

export const ODD_NAMES: readonly Buffer[] = [
  enc("café.txt"),
  enc("日本語"),
  enc("😀"),
  enc("Ωmega"),
  enc("with space"),
  enc("new\nline"),
  enc("tab\there"),
  enc("-leading-dash"),
  enc(".hidden"),
  enc("..."),
  enc("~"),
  enc("="),
  enc("a~nix~case~hack~1"),
  enc("UPPER"),
  enc("upper"),
  Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), // invalid UTF-8
  Buffer.from([0xc3]), // truncated UTF-8 sequence
  Buffer.from([0x01, 0x02, 0x7f]), // control bytes
  enc("x".repeat(255)),
  enc("é".repeat(127)), // 254 bytes
  enc("%s%n"),
  enc("\\backslash"),
  enc('"quoted"'),
];

const PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+=";

function randomName(rng: Random): Buffer {
  if (rng.chance(0.25)) return rng.pick(ODD_NAMES);
  const length = 1 + rng.int(rng.chance(0.1) ? 60 : 12);
  let name = "";
  for (let i = 0; i < length; i++) name += PLAIN[rng.int(PLAIN.length)];
  return name === "." || name === ".." ? enc(`${name}x`) : enc(name);
}

function randomContents(rng: Random): Uint8Array {
  const r = rng.next();
  if (r < 0.15) return new Uint8Array(0);
  if (r < 0.3) return rng.bytes(rng.int(9)); // around the 8-byte padding boundary
  if (r < 0.85) return rng.bytes(rng.int(2000));
  return rng.bytes(rng.int(300_000));
}

function randomTarget(rng: Random): Buffer {
  const options = [
    () => enc("target"),
    () => enc("../up/and/over"),
    () => enc("/nix/store/0d1w6a8f2kpwm44x6wykvzywlabra07b-t-file"),
    () => enc("/etc/passwd"),
    () => enc("dangling-nowhere"),
    () => enc("ünïcødé/😀"),
    () => enc("l".repeat(1 + rng.int(1000))),
    () => Buffer.from([0x61, 0xff, 0x62]),
    () => randomName(rng),
  ];
  return rng.pick(options)();
}

export interface TreeShape {
  maxDepth: number;
  maxEntries: number;
}

function path(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, enc("/"), name]);
}

function writeNode(rng: Random, at: Buffer, depth: number, shape: TreeShape): void {
  const r = rng.next();
  if (depth < shape.maxDepth && r < 0.35) {
    mkdirSync(at);
    const count = rng.int(shape.maxEntries + 1);
    const used = new Set<string>();
    for (let i = 0; i < count; i++) {
      const name = randomName(rng);
      const key = name.toString("latin1");
      if (used.has(key)) continue;
      used.add(key);
      writeNode(rng, path(at, name), depth + 1, shape);
    }
  } else if (r < 0.45) {
    symlinkSync(randomTarget(rng), at);
  } else if (r < 0.5) {
    mkdirSync(at); // empty directory
  } else {
    writeFileSync(at, randomContents(rng));
    const mode = rng.pick([0o644, 0o755, 0o600, 0o700, 0o654, 0o444, 0o555]);
    chmodSync(at, mode);
  }
}

/** Writes a random tree at `root` (which must not exist); the root itself is usually a directory. */
export function writeRandomTree(rng: Random, root: string, shape: TreeShape = { maxDepth: 4, maxEntries: 7 }): void {
  const at = enc(root);
  if (rng.chance(0.85)) {
    mkdirSync(at);
    const count = 1 + rng.int(shape.maxEntries);
    const used = new Set<string>();
    for (let i = 0; i < count; i++) {
      const name = randomName(rng);
      if (used.has(name.toString("latin1"))) continue;
      used.add(name.toString("latin1"));
      writeNode(rng, path(at, name), 1, shape);
    }
  } else writeNode(rng, at, shape.maxDepth, shape);
}
