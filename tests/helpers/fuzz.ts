/** What the fuzz tests share: case counts, reproducible per-case seeds, and readable failure reports. */

export function envCount(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const n = Number.parseInt(value, 10);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not '${value}'`);
  return n;
}

/** BUNIX_FUZZ_ONLY=<seed>:<index> re-runs one case. */
export function parseOnly(value: string | undefined): { seed: number; index: number } | undefined {
  if (value === undefined || value === "") return undefined;
  const match = /^(0x[0-9a-f]+|\d+):(\d+)$/i.exec(value);
  if (!match) throw new Error(`BUNIX_FUZZ_ONLY must look like <seed>:<index>, not '${value}'`);
  return { seed: Number(match[1]!), index: Number(match[2]!) };
}

/** An independent seed per (seed, case index), so any single case can be replayed. */
export function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x85ebca6b, 0x9e3779b1) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name}: ${error.message}\n${error.stack ?? ""}`;
  return `non-Error value ${String(error)}`;
}

/** Bytes as printable ASCII, other bytes as \xNN. */
export function printable(bytes: Uint8Array | string): string {
  const text = typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("latin1");
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** A plain Uint8Array holding the parts one after the other. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
