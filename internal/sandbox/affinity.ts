/**
 * `lock-cpu`: the daemon may pin its event-loop thread to the CPU its
 * client runs on (shared caches for the protocol's back and forth). What it
 * forks inherits that pin, so builders are released from it before they run:
 * the launcher restores the mask the thread had before the first lock.
 */
import { setThreadAffinity, threadAffinity } from "../../ffi/process.ts";

/** The CPUs the thread could use before it was first locked. */
let original: readonly number[] | undefined;

/** Pins the calling thread to `cpu`, remembering its mask the first time. */
export function lockThreadToCpu(cpu: number): void {
  original ??= threadAffinity();
  setThreadAffinity([cpu]);
}

/** The CPUs the thread had before it was locked, or undefined when it never was. */
export function affinityBeforeLock(): readonly number[] | undefined {
  return original;
}

/** Room for 1024 CPUs, as glibc's cpu_set_t (and ffi/process.ts). */
const CPU_SET_BYTES = 128;

/** A cpu_set_t for sched_setaffinity(2). */
export function cpuMask(cpus: readonly number[]): Uint8Array {
  const mask = new Uint8Array(CPU_SET_BYTES);
  for (const cpu of cpus) mask[cpu >> 3]! |= 1 << (cpu & 7);
  return mask;
}
