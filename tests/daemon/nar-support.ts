/**
 * Building add requests for raw protocol tests: NARs of small objects, path
 * infos (input-addressed with a made-up path, or content-addressed), the
 * AddToStoreNar request in each of its three forms, and checks that a
 * failed add left nothing behind (no registration, no staging directory).
 */
import { existsSync, readdirSync } from "node:fs";
import type { WorkerClient } from "../../internal/daemon/client.ts";
import type { Hash } from "../../internal/hash/hash.ts";
import { hashBytes, sha256Of } from "../../internal/hash/hasher.ts";
import { regularFileNarPrefix, regularFileNarSuffix } from "../../internal/nar/single-file.ts";
import { formatContentAddress } from "../../internal/store-path/content-address.ts";
import { makeFixedOutputPath, makeStorePath } from "../../internal/store-path/make.ts";
import { frame } from "../../internal/wire/framed.ts";
import { Op } from "../../internal/wire/worker-protocol.ts";
import type { WireWriter } from "../../internal/wire/writer.ts";

/** The NAR of one regular file. */
export function fileNar(contents: string | Uint8Array, executable = false): Uint8Array {
  const bytes = typeof contents === "string" ? Buffer.from(contents) : contents;
  return Buffer.concat([regularFileNarPrefix(bytes.length, executable), bytes, regularFileNarSuffix(bytes.length)]);
}

export interface NarInfo {
  path: string;
  deriver: string;
  narHash: Hash;
  references: string[];
  registrationTime: number;
  narSize: number;
  ultimate: boolean;
  sigs: string[];
  ca: string;
}

/** An input-addressed path (made-up hash part) holding `nar`. */
export function inputAddressed(storeDir: string, name: string, nar: Uint8Array, references: string[] = []): NarInfo {
  const path = `${storeDir}/${makeStorePath("output:out", sha256Of(`${name}-${Math.random()}`), name, storeDir).baseName}`;
  return { path, deriver: "", narHash: hashBytes("sha256", nar), references, registrationTime: 0, narSize: nar.length, ultimate: false, sigs: [], ca: "" };
}

/** A flat content-addressed path holding `contents` (and its NAR). */
export function contentAddressed(storeDir: string, name: string, contents: string): { info: NarInfo; nar: Uint8Array } {
  const nar = fileNar(contents);
  const hash = hashBytes("sha256", Buffer.from(contents));
  const path = `${storeDir}/${makeFixedOutputPath("flat", hash, name, storeDir).baseName}`;
  const info = { path, deriver: "", narHash: hashBytes("sha256", nar), references: [], registrationTime: 0, narSize: nar.length, ultimate: false, sigs: [], ca: formatContentAddress({ method: "flat", hash }) };
  return { info, nar };
}

export function writeInfoFields(w: WireWriter, info: NarInfo): void {
  w.latin1(info.deriver).latin1(info.narHash.base16).latin1Set(info.references).u64(info.registrationTime).u64(info.narSize).bool(info.ultimate).latin1Set(info.sigs).latin1(info.ca);
}

export interface AddNarFlags {
  repair?: boolean;
  dontCheckSigs?: boolean;
  /** Size of the frames the NAR is cut into (framed form). */
  frameSize?: number;
}

/**
 * Sends AddToStoreNar in the form the client's version calls for (framed,
 * pulled with STDERR_READ, or inline) and waits for its end (RemoteError on
 * failure). `nar` is what is sent, which tests make differ from the info.
 */
export async function addToStoreNar(client: WorkerClient, info: NarInfo, nar: Uint8Array, flags: AddNarFlags = {}): Promise<void> {
  const w = client.writer;
  w.u64(Op.AddToStoreNar).latin1(info.path);
  writeInfoFields(w, info);
  w.bool(flags.repair ?? false).bool(flags.dontCheckSigs ?? false);
  if (client.minor >= 23) for (const piece of frame(nar, flags.frameSize ?? 32 << 10)) w.raw(piece);
  else if (client.minor < 21) w.raw(nar);
  await client.send();
  let offset = 0;
  await client.readStderr(async (count) => {
    const piece = nar.subarray(offset, offset + count);
    offset += piece.length;
    client.writer.bytes(piece);
    await client.send();
  });
}

/** Store entries whose names show a staging directory (a leftover of a failed add). */
export function stagingLeftovers(storeDir: string): string[] {
  return existsSync(storeDir) ? readdirSync(storeDir).filter((n) => n.includes("bunix-staging")) : [];
}

export async function isValid(client: WorkerClient, path: string): Promise<boolean> {
  return (await client.op(Op.IsValidPath, (w) => w.latin1(path))).bool("valid");
}
