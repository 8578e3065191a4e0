/**
 * Long store-wide loops (verify, the collector's clean-ups) written once as
 * generators that `yield` at points where pausing is safe. A command runs
 * them to the end at once; the daemon, which serves every client from one
 * event loop, runs them in slices of about SLICE_MS and lets other clients
 * be served in between.
 */

/** A computation that yields (nothing) where it may pause, and returns T. */
export type Sliced<T> = Generator<void, T, void>;

/** How long a slice runs before the event loop gets a turn (ms). */
export const SLICE_MS = 10;

/** Gives the event loop one turn (I/O callbacks included). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Runs to the end without pausing. */
export function runAtOnce<T>(work: Sliced<T>): T {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
  }
}

/** Runs in slices, calling `pause` between them (by default: one turn of the event loop). */
export async function runInSlices<T>(work: Sliced<T>, pause: () => Promise<void> = yieldToEventLoop): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= SLICE_MS) {
      await pause();
      sliceStart = performance.now();
    }
  }
}
