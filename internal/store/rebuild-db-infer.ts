/**
 * What a lost database recorded, recovered from the objects themselves:
 *
 * - references: for a `.drv`, its input sources and input derivations (its
 *   contents name its outputs too, which are not references); for a build
 *   output whose `.drv` is present, the hash parts found in it among what
 *   Nix scanned for (the closure of the derivation's inputs and its own
 *   outputs); otherwise every entry whose hash part occurs in it;
 * - deriver: a present `.drv` that lists the path among its outputs;
 * - content address, only where name and contents prove it: a text object
 *   (`.drv`, `builtins.toFile`) whose path makeTextPath gives back, a source
 *   path that makeFixedOutputPath gives back, a fixed output whose `.drv`
 *   names its hash and whose contents have it. A proof also proves the
 *   references it was computed with.
 *
 * Everything else (signatures, registration times, ultimate flags, derivers
 * of paths whose `.drv` is gone, content addresses nothing proves) is lost
 * and listed as such.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDerivation } from "../derivation/aterm-parse.ts";
import { classifyOutput } from "../derivation/output-kind.ts";
import type { Derivation } from "../derivation/types.ts";
import { BunixError } from "../errors.ts";
import type { Hash } from "../hash/hash.ts";
import { hashChunks } from "../hash/hasher.ts";
import { hashPath } from "../nar/hash-path.ts";
import { fdChunksOfFile } from "../stream/file-chunks.ts";
import { formatContentAddress } from "../store-path/content-address.ts";
import { makeFixedOutputPath, makeTextPath, outputPathName } from "../store-path/make.ts";
import { type StorePath, compareStorePaths, parseStorePath } from "../store-path/store-path.ts";
import type { ScannedObject, StoreScan } from "./rebuild-db-scan.ts";

export type CaKind = "text" | "source" | "fixed";

export interface RecoveredPath {
  readonly path: StorePath;
  readonly narHash: Hash;
  readonly narSize: number;
  /** Sorted; the path itself included when it refers to itself. */
  readonly references: StorePath[];
  readonly deriver: StorePath | undefined;
  readonly ca: string | undefined;
  readonly caKind: CaKind | undefined;
  /** For a `.drv`: its outputs whose paths are known (DerivationOutputs rows). */
  readonly outputs: ReadonlyArray<readonly [string, StorePath]>;
  /** An input-addressed output of a present `.drv`: known to have no content address. */
  readonly inputAddressed: boolean;
}

export interface DroppedReference {
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export interface Findings {
  readonly ambiguousDerivers: Array<{ path: string; chosen: string; others: string[] }>;
  readonly badDerivations: Array<{ path: string; error: string }>;
  readonly droppedReferences: DroppedReference[];
  readonly fixedOutputMismatches: Array<{ path: string; detail: string }>;
}

export interface Inference {
  /** In registration order: every path after the paths it refers to. */
  readonly paths: RecoveredPath[];
  readonly findings: Findings;
}

interface ParsedDerivation {
  readonly drv: Derivation;
  /** Output name -> path, where known without building. */
  readonly outputs: Map<string, StorePath>;
  /** Output name -> fixed-output hash specification. */
  readonly fixed: Map<string, { method: "flat" | "recursive"; hash: Hash }>;
}

interface Resolved {
  references: StorePath[];
  self: boolean;
  ca?: string;
  caKind?: CaKind;
  deriver?: StorePath;
}

class Recovery {
  private readonly byHashPart = new Map<string, StorePath>();
  private readonly derivations = new Map<string, ParsedDerivation>();
  /** Output base name -> present `.drv`s that list it. */
  private readonly producers = new Map<string, StorePath[]>();
  private readonly resolved = new Map<string, Resolved>();
  private readonly resolving = new Set<string>();
  private readonly inputClosures = new Map<string, Set<string>>();
  readonly findings: Findings = { ambiguousDerivers: [], badDerivations: [], droppedReferences: [], fixedOutputMismatches: [] };

  constructor(
    private readonly scan: StoreScan,
    private readonly storeDir: string,
    private readonly realStoreDir: string,
  ) {
    for (const object of scan.objects.values()) this.byHashPart.set(object.path.hashPart, object.path);
    for (const object of [...scan.objects.values()].sort((a, b) => compareStorePaths(a.path, b.path))) {
      if (object.path.isDerivation()) this.parseDerivationObject(object);
    }
  }

  private print(path: StorePath): string {
    return path.in(this.storeDir);
  }

  private real(path: StorePath): string {
    return join(this.realStoreDir, path.baseName);
  }

  private present(path: StorePath): boolean {
    return this.scan.objects.has(path.baseName);
  }

  private parseDerivationObject(object: ScannedObject): void {
    let drv: Derivation;
    const outputs = new Map<string, StorePath>();
    const fixed = new Map<string, { method: "flat" | "recursive"; hash: Hash }>();
    try {
      drv = parseDerivation(readFileSync(this.real(object.path)));
      for (const [name, output] of drv.outputs) {
        const kind = classifyOutput(name, output, this.storeDir);
        if (kind.kind === "input-addressed") outputs.set(name, kind.path);
        else if (kind.kind === "fixed") {
          outputs.set(name, makeFixedOutputPath(kind.method, kind.hash, outputPathName(object.path.derivationName, name), this.storeDir));
          fixed.set(name, { method: kind.method, hash: kind.hash });
        }
      }
    } catch (error) {
      this.findings.badDerivations.push({ path: this.print(object.path), error: error instanceof Error ? error.message : String(error) });
      return;
    }
    this.derivations.set(object.path.baseName, { drv, outputs, fixed });
    for (const output of outputs.values()) {
      if (!this.present(output)) continue;
      const list = this.producers.get(output.baseName) ?? [];
      list.push(object.path);
      this.producers.set(output.baseName, list);
    }
  }

  /** The `.drv` recorded as deriver: the only present one listing the path, or the first of several. */
  private deriverOf(path: StorePath): StorePath | undefined {
    const candidates = this.producers.get(path.baseName);
    if (!candidates || candidates.length === 0) return undefined;
    return candidates[0];
  }

  noteAmbiguousDerivers(): void {
    for (const [output, candidates] of this.producers) {
      if (candidates.length < 2) continue;
      const path = this.scan.objects.get(output)!.path;
      this.findings.ambiguousDerivers.push({ path: this.print(path), chosen: this.print(candidates[0]!), others: candidates.slice(1).map((c) => this.print(c)) });
    }
  }

  /** Present entries whose hash part occurs in the object, other than itself. */
  private scanned(object: ScannedObject): StorePath[] {
    const out: StorePath[] = [];
    for (const hashPart of object.found) {
      const path = this.byHashPart.get(hashPart);
      if (path && hashPart !== object.path.hashPart) out.push(path);
    }
    return out.sort(compareStorePaths);
  }

  /** Everything Nix scanned a build of `drvPath` for: the closure of its inputs and its own outputs. */
  private scanCandidates(drvPath: StorePath): Set<string> {
    const cached = this.inputClosures.get(drvPath.baseName);
    if (cached) return cached;
    const parsed = this.derivations.get(drvPath.baseName)!;
    const roots: StorePath[] = [];
    for (const src of parsed.drv.inputSrcs) {
      const path = this.parseQuiet(src);
      if (path) roots.push(path);
    }
    for (const [input, wanted] of parsed.drv.inputDrvs) {
      const inputPath = this.parseQuiet(input);
      const inputDrv = inputPath && this.derivations.get(inputPath.baseName);
      if (!inputDrv) continue;
      for (const name of wanted) {
        const output = inputDrv.outputs.get(name);
        if (output) roots.push(output);
      }
    }
    const closure = new Set<string>();
    const queue = roots.filter((r) => this.present(r));
    while (queue.length > 0) {
      const path = queue.pop()!;
      if (closure.has(path.baseName)) continue;
      closure.add(path.baseName);
      for (const ref of this.resolve(path).references) if (!closure.has(ref.baseName)) queue.push(ref);
    }
    for (const output of parsed.outputs.values()) closure.add(output.baseName);
    this.inputClosures.set(drvPath.baseName, closure);
    return closure;
  }

  private parseQuiet(text: string): StorePath | undefined {
    try {
      return parseStorePath(this.storeDir, text);
    } catch {
      return undefined;
    }
  }

  resolve(path: StorePath): Resolved {
    const done = this.resolved.get(path.baseName);
    if (done) return done;
    const object = this.scan.objects.get(path.baseName)!;
    // Derivation graphs are acyclic; should objects loop anyway, fall back to the plain scan.
    if (this.resolving.has(path.baseName)) return { references: this.scanned(object), self: false };
    this.resolving.add(path.baseName);
    try {
      const result = this.resolveObject(object);
      this.resolved.set(path.baseName, result);
      return result;
    } finally {
      this.resolving.delete(path.baseName);
    }
  }

  private resolveObject(object: ScannedObject): Resolved {
    const path = object.path;
    const self = object.found.has(path.hashPart);
    const parsed = this.derivations.get(path.baseName);
    if (parsed) return this.resolveDerivation(object, parsed);

    const scanned = this.scanned(object);
    const deriver = this.deriverOf(path);
    const derived = deriver ? { deriver } : {};
    const tryRefs = scanned.length > 0 ? [scanned, []] : [[]];
    if (object.regularFile && !object.executable && !self && object.flatSha256) {
      for (const refs of tryRefs) {
        if (makeTextPath(path.name, object.flatSha256, refs, this.storeDir).equals(path)) {
          return { references: refs, self: false, ca: formatContentAddress({ method: "text", hash: object.flatSha256 }), caKind: "text", ...derived };
        }
      }
    }
    const sourceTries = [...tryRefs.map((refs) => ({ refs, withSelf: self })), ...(self ? [{ refs: [], withSelf: false }] : [])];
    for (const { refs, withSelf } of sourceTries) {
      if (makeFixedOutputPath("recursive", object.narHash, path.name, this.storeDir, refs, withSelf).equals(path)) {
        const ca = formatContentAddress({ method: "recursive", hash: object.narHash });
        return { references: refs, self: withSelf, ca, caKind: deriver ? "fixed" : "source", ...derived };
      }
    }
    if (deriver) {
      const allowed = this.scanCandidates(deriver);
      const references = scanned.filter((r) => allowed.has(r.baseName));
      const fixed = this.fixedOutputAddress(object, deriver);
      return { references, self, deriver, ...(fixed ? { ca: fixed, caKind: "fixed" as const } : {}) };
    }
    if (object.regularFile && !object.executable && object.flatSha256 && makeFixedOutputPath("flat", object.flatSha256, path.name, this.storeDir).equals(path)) {
      return { references: [], self: false, ca: formatContentAddress({ method: "flat", hash: object.flatSha256 }), caKind: "fixed" };
    }
    return { references: scanned, self };
  }

  private resolveDerivation(object: ScannedObject, parsed: ParsedDerivation): Resolved {
    const named = new Map<string, StorePath>();
    for (const text of [...parsed.drv.inputSrcs, ...parsed.drv.inputDrvs.keys()]) {
      const ref = this.parseQuiet(text);
      if (ref) named.set(ref.baseName, ref);
    }
    const all = [...named.values()].sort(compareStorePaths);
    const references: StorePath[] = [];
    for (const ref of all) {
      if (this.present(ref)) references.push(ref);
      else this.findings.droppedReferences.push({ from: this.print(object.path), to: this.print(ref), reason: "it is not in the store" });
    }
    const proven = object.flatSha256 !== undefined && makeTextPath(object.path.name, object.flatSha256, all, this.storeDir).equals(object.path);
    return { references, self: false, ...(proven ? { ca: formatContentAddress({ method: "text", hash: object.flatSha256! }), caKind: "text" as const } : {}) };
  }

  /** `fixed:...` when `deriver` declares this path as a fixed output and the contents have its hash. */
  private fixedOutputAddress(object: ScannedObject, deriver: StorePath): string | undefined {
    const parsed = this.derivations.get(deriver.baseName)!;
    for (const [name, spec] of parsed.fixed) {
      if (!parsed.outputs.get(name)?.equals(object.path)) continue;
      let actual: Hash;
      try {
        if (spec.method === "flat") {
          if (!object.regularFile) return this.mismatch(object, "it is not a regular file, but its derivation declares a flat hash");
          actual = spec.hash.algorithm === "sha256" && object.flatSha256 ? object.flatSha256 : hashChunks(spec.hash.algorithm, fdChunksOfFile(this.real(object.path)));
        } else {
          actual = spec.hash.algorithm === "sha256" ? object.narHash : hashPath(this.real(object.path), spec.hash.algorithm).hash;
        }
      } catch (error) {
        return this.mismatch(object, error instanceof BunixError ? error.message : String(error));
      }
      if (!actual.equals(spec.hash)) return this.mismatch(object, `its contents hash to '${actual.format("base32", true)}', not the declared '${spec.hash.format("base32", true)}'`);
      return formatContentAddress({ method: spec.method, hash: spec.hash });
    }
    return undefined;
  }

  private mismatch(object: ScannedObject, detail: string): undefined {
    this.findings.fixedOutputMismatches.push({ path: this.print(object.path), detail });
    return undefined;
  }

  isInputAddressedOutput(path: StorePath): boolean {
    const deriver = this.deriverOf(path);
    if (!deriver) return false;
    const parsed = this.derivations.get(deriver.baseName)!;
    return [...parsed.outputs].some(([name, output]) => output.equals(path) && !parsed.fixed.has(name));
  }

  outputsOf(path: StorePath): Array<readonly [string, StorePath]> {
    return [...(this.derivations.get(path.baseName)?.outputs ?? [])];
  }
}

/**
 * Orders paths references-first (visiting in sorted order), dropping the
 * references that close a cycle (self references are kept: they are allowed).
 */
function orderAndBreakCycles(paths: StorePath[], refs: Map<string, StorePath[]>, dropped: DroppedReference[], storeDir: string): StorePath[] {
  const state = new Map<string, "visiting" | "done">();
  const order: StorePath[] = [];
  const visit = (path: StorePath): void => {
    state.set(path.baseName, "visiting");
    const kept: StorePath[] = [];
    for (const ref of refs.get(path.baseName)!) {
      if (ref.baseName === path.baseName) {
        kept.push(ref);
        continue;
      }
      const s = state.get(ref.baseName);
      if (s === "visiting") {
        dropped.push({ from: path.in(storeDir), to: ref.in(storeDir), reason: "it would close a reference cycle" });
        continue;
      }
      if (s === undefined) visit(ref);
      kept.push(ref);
    }
    refs.set(path.baseName, kept);
    state.set(path.baseName, "done");
    order.push(path);
  };
  for (const path of paths) if (!state.has(path.baseName)) visit(path);
  return order;
}

/** Recovers what can be recovered about every scanned object. */
export function inferPathInfos(scan: StoreScan, storeDir: string, realStoreDir: string): Inference {
  const recovery = new Recovery(scan, storeDir, realStoreDir);
  recovery.noteAmbiguousDerivers();
  const sorted = [...scan.objects.values()].map((o) => o.path).sort(compareStorePaths);
  const resolved = new Map(sorted.map((p) => [p.baseName, recovery.resolve(p)]));
  const refs = new Map<string, StorePath[]>();
  for (const path of sorted) {
    const r = resolved.get(path.baseName)!;
    refs.set(path.baseName, [...r.references, ...(r.self ? [path] : [])].sort(compareStorePaths));
  }
  const order = orderAndBreakCycles(sorted, refs, recovery.findings.droppedReferences, storeDir);
  const paths = order.map((path): RecoveredPath => {
    const object = scan.objects.get(path.baseName)!;
    const r = resolved.get(path.baseName)!;
    return {
      path,
      narHash: object.narHash,
      narSize: object.narSize,
      references: refs.get(path.baseName)!,
      deriver: r.deriver,
      ca: r.ca,
      caKind: r.caKind,
      outputs: recovery.outputsOf(path),
      inputAddressed: recovery.isInputAddressedOutput(path),
    };
  });
  return { paths, findings: recovery.findings };
}
