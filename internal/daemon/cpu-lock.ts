/**
 * `lock-cpu`: before building for a client, the daemon pins its event-loop
 * thread to the CPU that client runs on (field 39, "processor", of
 * /proc/<pid>/stat; the daemon's own CPU when that cannot be read). The
 * builders it starts are released from the pin (sandbox/affinity.ts).
 */
import { readFileSync } from "node:fs";
import { currentCpu } from "../../ffi/process.ts";
import { lockThreadToCpu } from "../sandbox/affinity.ts";
import type { Connection } from "./connection.ts";

/** The CPU a process last ran on, from /proc/<pid>/stat (after the command name, which may hold spaces). */
export function processorOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Field 3 (state) is the first after the name; "processor" is field 39.
    const cpu = Number(fields[39 - 3]);
    return Number.isInteger(cpu) && cpu >= 0 ? cpu : undefined;
  } catch {
    return undefined;
  }
}

export function lockCpuForClient(c: Connection): void {
  if (!c.settings.bool("lock-cpu")) return;
  const cpu = (c.peer ? processorOf(c.peer.pid) : undefined) ?? currentCpu();
  lockThreadToCpu(cpu);
}
