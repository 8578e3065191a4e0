/**
 * Progress and failure: progress goes to stderr (stdout holds only the tables
 * and the JSON line) and is silenced by --json.
 */

let quiet = false;

export function setQuiet(value: boolean): void {
  quiet = value;
}

export function log(text: string): void {
  if (!quiet) process.stderr.write(`bench: ${text}\n`);
}

/** Loud failure: the two tools disagree, or one of them failed. */
export class BenchFailure extends Error {}
