/** Units of the benchmark's figures: MB is 10^6 bytes, MiB 2^20. */

export const MiB = 1 << 20;
export const MB = 1e6;

/** Rounds to `digits` decimals, so the JSON line does not carry float noise. */
export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
