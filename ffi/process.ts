/** Processes started outside Bun.spawn: reaping without blocking, signals, non-blocking descriptors, CPU affinity. */
import { FFIType } from "bun:ffi";
import { check, libcGroup } from "./call.ts";

const processes = libcGroup({
  waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  kill: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  sched_getcpu: { args: [], returns: FFIType.i32 },
  sched_getaffinity: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  sched_setaffinity: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
});

const WNOHANG = 1;
const statusBuffer = new Int32Array(1);

/** The wait status of `pid` if it has exited (reaping it), else undefined. */
export function waitNoHang(pid: number): number | undefined {
  for (;;) {
    const r = check("waitpid", processes().waitpid(pid, statusBuffer, WNOHANG));
    if (r === undefined) continue;
    return r === 0 ? undefined : statusBuffer[0]!;
  }
}

/** kill(2); a process that is already gone is not an error. */
export function signalProcess(pid: number, signal: number): void {
  processes().kill(pid, signal);
}

export const SIGKILL = 9;
export const SIGTERM = 15;

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

export function setNonBlocking(fd: number): void {
  const flags = check("fcntl", processes().fcntl(fd, F_GETFL, 0))!;
  check("fcntl", processes().fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

/** Decodes a wait status: the exit code, or the signal that killed the process. */
export function describeWaitStatus(status: number): { code?: number; signal?: number } {
  const signal = status & 0x7f;
  return signal === 0 ? { code: (status >> 8) & 0xff } : { signal };
}

/** Room for 1024 CPUs, as glibc's cpu_set_t. */
const CPU_SET_BYTES = 128;

/** The CPU the calling thread runs on. */
export function currentCpu(): number {
  return check("sched_getcpu", processes().sched_getcpu())!;
}

/** The CPUs the calling thread may run on. */
export function threadAffinity(): number[] {
  const mask = new Uint8Array(CPU_SET_BYTES);
  for (;;) if (check("sched_getaffinity", processes().sched_getaffinity(0, CPU_SET_BYTES, mask)) !== undefined) break;
  const cpus: number[] = [];
  for (let cpu = 0; cpu < CPU_SET_BYTES * 8; cpu++) if (mask[cpu >> 3]! & (1 << (cpu & 7))) cpus.push(cpu);
  return cpus;
}

/** Restricts the calling thread (and what it forks afterwards) to `cpus`. */
export function setThreadAffinity(cpus: readonly number[]): void {
  const mask = new Uint8Array(CPU_SET_BYTES);
  for (const cpu of cpus) mask[cpu >> 3]! |= 1 << (cpu & 7);
  for (;;) if (check("sched_setaffinity", processes().sched_setaffinity(0, CPU_SET_BYTES, mask)) !== undefined) break;
}
