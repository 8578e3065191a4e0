/**
 * Compound values of the worker protocol as they appear on the wire
 * (worker-protocol.md 2.12-2.14): store paths as full strings, hashes as
 * text. Meaning (parsing paths, checking hashes) is the daemon's business.
 */
import { WireError } from "./errors.ts";
import type { WireReader } from "./reader.ts";
import type { WireWriter } from "./writer.ts";
import type { LogField } from "./worker-protocol.ts";

/** ValidPathInfo without its path; `format` is the minor version it is read or written at. */
export interface WirePathInfo {
  deriver: string;
  narHash: string;
  references: string[];
  registrationTime: number;
  narSize: number;
  ultimate: boolean;
  sigs: string[];
  ca: string;
}

export async function readPathInfo(reader: WireReader, format: number): Promise<WirePathInfo> {
  const deriver = await reader.latin1("the deriver");
  const narHash = await reader.latin1("the NAR hash");
  const references = await reader.latin1List("references");
  const registrationTime = await reader.u64("the registration time");
  const narSize = await reader.u64("the NAR size");
  let ultimate = false;
  let sigs: string[] = [];
  let ca = "";
  if (format >= 16) {
    ultimate = await reader.bool("the ultimate flag");
    sigs = await reader.latin1List("signatures");
    ca = await reader.latin1("the content address");
  }
  return { deriver, narHash, references, registrationTime, narSize, ultimate, sigs, ca };
}

export function writePathInfo(writer: WireWriter, info: WirePathInfo, format: number): void {
  writer.latin1(info.deriver).latin1(info.narHash).latin1Set(info.references).u64(info.registrationTime).u64(info.narSize);
  if (format >= 16) writer.bool(info.ultimate).latin1Set(info.sigs).latin1(info.ca);
}

/** A BuildResult (2.13); `builtOutputs` maps DrvOutput ids to Realisation JSON. */
export interface WireBuildResult {
  status: number;
  errorMsg: string;
  timesBuilt: number;
  isNonDeterministic: boolean;
  startTime: number;
  stopTime: number;
  builtOutputs: Map<string, string>;
}

/** The full form, preceded by the requested DerivedPath (BuildPathsWithResults). */
export function writeBuildResult(writer: WireWriter, path: string, result: WireBuildResult): void {
  writer.latin1(path).u64(result.status).text(result.errorMsg);
  writer.u64(result.timesBuilt).bool(result.isNonDeterministic).u64(result.startTime).u64(result.stopTime);
  writeOutputs(writer, result.builtOutputs);
}

/** The BuildDerivation reply, whose fields depend on the minor version (6.8). */
export function writeBuildDerivationResult(writer: WireWriter, result: WireBuildResult, minor: number): void {
  writer.u64(result.status).text(result.errorMsg);
  if (minor >= 29) writer.u64(result.timesBuilt).bool(result.isNonDeterministic).u64(result.startTime).u64(result.stopTime);
  if (minor >= 28) writeOutputs(writer, result.builtOutputs);
}

function writeOutputs(writer: WireWriter, outputs: ReadonlyMap<string, string>): void {
  const ids = [...outputs.keys()].sort();
  writer.u64(ids.length);
  for (const id of ids) writer.latin1(id).text(outputs.get(id)!);
}

export async function readBuildResult(reader: WireReader): Promise<{ path: string; result: WireBuildResult }> {
  const path = await reader.latin1("the derived path");
  const status = await reader.u64("the build status");
  const errorMsg = await reader.text("the error message");
  const timesBuilt = await reader.u64("timesBuilt");
  const isNonDeterministic = await reader.bool("isNonDeterministic");
  const startTime = await reader.u64("the start time");
  const stopTime = await reader.u64("the stop time");
  const count = await reader.count("built outputs");
  const builtOutputs = new Map<string, string>();
  for (let i = 0; i < count; i++) builtOutputs.set(await reader.latin1("a DrvOutput id"), await reader.text("a realisation"));
  return { path, result: { status, errorMsg, timesBuilt, isNonDeterministic, startTime, stopTime, builtOutputs } };
}

/** A derivation sent inline (BuildDerivation, 2.14); strings keep one char per byte. */
export interface WireBasicDerivation {
  outputs: Array<{ name: string; path: string; hashAlgo: string; hash: string }>;
  inputSrcs: string[];
  platform: string;
  builder: string;
  args: string[];
  env: Array<[string, string]>;
}

export async function readBasicDerivation(reader: WireReader): Promise<WireBasicDerivation> {
  const nOutputs = await reader.count("derivation outputs");
  const outputs: WireBasicDerivation["outputs"] = [];
  for (let i = 0; i < nOutputs; i++) {
    outputs.push({
      name: await reader.latin1("an output name"),
      path: await reader.latin1("an output path"),
      hashAlgo: await reader.latin1("an output hash algorithm"),
      hash: await reader.latin1("an output hash"),
    });
  }
  const inputSrcs = await reader.latin1List("input sources");
  const platform = await reader.latin1("the platform");
  const builder = await reader.latin1("the builder");
  const args = await reader.latin1List("builder arguments");
  const nEnv = await reader.count("environment variables");
  const env: Array<[string, string]> = [];
  for (let i = 0; i < nEnv; i++) env.push([await reader.latin1("an environment variable name"), await reader.latin1("an environment variable value")]);
  return { outputs, inputSrcs, platform, builder, args, env };
}

export function writeBasicDerivation(writer: WireWriter, drv: WireBasicDerivation): void {
  writer.u64(drv.outputs.length);
  for (const o of drv.outputs) writer.latin1(o.name).latin1(o.path).latin1(o.hashAlgo).latin1(o.hash);
  writer.latin1Set(drv.inputSrcs).latin1(drv.platform).latin1(drv.builder).latin1List(drv.args);
  writer.u64(drv.env.length);
  for (const [k, v] of drv.env) writer.latin1(k).latin1(v);
}

/** Activity and result fields (5): type 0 = integer, 1 = string. */
export function writeFields(writer: WireWriter, fields: readonly LogField[]): void {
  writer.u64(fields.length);
  for (const field of fields) {
    if (typeof field === "string") writer.u64(1).text(field);
    else writer.u64(0).u64(field);
  }
}

export async function readFields(reader: WireReader): Promise<LogField[]> {
  const n = await reader.count("fields");
  const fields: LogField[] = [];
  for (let i = 0; i < n; i++) {
    const at = reader.position;
    const type = await reader.u64("a field type");
    if (type === 0) fields.push(await reader.u64Big("an integer field"));
    else if (type === 1) fields.push(await reader.text("a string field"));
    else throw new WireError(`unsupported field type ${type}`, at);
  }
  return fields;
}
