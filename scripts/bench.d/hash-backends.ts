/**
 * Part of the NAR suite: in-process throughput of the two hash back ends
 * (Bun.CryptoHasher and @noble/hashes) for md5, sha1, sha256 and sha512, in
 * 1 MiB updates, after checking that both give the same digests.
 */
import type { HashAlgorithm } from "../../internal/hash/algorithm.ts";
import { type HashBackend, createHasher } from "../../internal/hash/hasher.ts";
import { BenchFailure, log } from "./log.ts";
import { table } from "./report.ts";
import { MB, MiB, round } from "./units.ts";

export interface Throughput {
  mib: number;
  ms: number;
  mbPerS: number;
}

/** Throughput by algorithm, then back end. */
export type BackendThroughput = Record<string, Record<HashBackend, Throughput>>;

const ALGORITHMS: readonly HashAlgorithm[] = ["md5", "sha1", "sha256", "sha512"];
const BACKENDS: readonly HashBackend[] = ["native", "noble"];
/** Stop a throughput measurement early after this long. */
const THROUGHPUT_CAP_MS = 4000;

function hashThroughput(algorithm: HashAlgorithm, backend: HashBackend, data: Uint8Array, mib: number): Throughput {
  const chunks = Math.floor(data.length / MiB);
  const warm = createHasher(algorithm, backend);
  for (let i = 0; i < 8; i++) warm.update(data.subarray((i % chunks) * MiB, ((i % chunks) + 1) * MiB));
  warm.finish();
  const hasher = createHasher(algorithm, backend);
  const start = performance.now();
  let done = 0;
  while (done < mib) {
    const at = (done % chunks) * MiB;
    hasher.update(data.subarray(at, at + MiB));
    done++;
    if ((done & 15) === 0 && performance.now() - start > THROUGHPUT_CAP_MS) break;
  }
  hasher.finish();
  const ms = performance.now() - start;
  return { mib: done, ms: round(ms, 1), mbPerS: round((done * MiB) / MB / (ms / 1000), 1) };
}

function checkBackendsAgree(data: Uint8Array): void {
  for (const algorithm of ALGORITHMS) {
    const digests = BACKENDS.map((backend) => {
      const hasher = createHasher(algorithm, backend);
      for (let i = 0; i < 3; i++) hasher.update(data.subarray(i * MiB + i, (i + 1) * MiB));
      return hasher.finish().base16;
    });
    if (digests[0] !== digests[1]) throw new BenchFailure(`${algorithm}: native gave ${digests[0]}, noble gave ${digests[1]}`);
  }
}

/** Hashes `data` (at least 3 MiB) over and over; noble gets less, being much slower. */
export function measureHashBackends(data: Uint8Array, quick: boolean): BackendThroughput {
  log("in-process hash back-end throughput...");
  checkBackendsAgree(data);
  const throughput: BackendThroughput = {};
  for (const algorithm of ALGORITHMS) {
    const native = hashThroughput(algorithm, "native", data, quick ? 128 : 1024);
    const noble = hashThroughput(algorithm, "noble", data, quick ? 32 : 256);
    throughput[algorithm] = { native, noble };
    log(`  ${algorithm}: native ${native.mbPerS} MB/s, noble ${noble.mbPerS} MB/s`);
  }
  return throughput;
}

export function hashBackendsTable(throughput: BackendThroughput): string {
  return table(
    ["hash back end (in-process, 1 MiB updates)", "native (Bun.CryptoHasher)", "noble (@noble/hashes)", "native/noble"],
    ALGORITHMS.map((a) => {
      const t = throughput[a]!;
      return [a, `${t.native.mbPerS.toFixed(0)} MB/s (${t.native.mib} MiB)`, `${t.noble.mbPerS.toFixed(0)} MB/s (${t.noble.mib} MiB)`, `${(t.native.mbPerS / t.noble.mbPerS).toFixed(1)}x`];
    }),
    new Set([1, 2, 3]),
  );
}
