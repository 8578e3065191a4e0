/**
 * Setup operations for the process that becomes the builder, planned here
 * and carried out by launcher.c between fork() and exec(). Each has a
 * description so that a failure reads "cannot <verb> <object>: <reason>".
 */
import { ptr } from "bun:ffi";

export const Op = {
  unshare: 1,
  syncUserNamespace: 2,
  forkPid1: 3,
  mount: 4,
  pivotRoot: 5,
  chdir: 6,
  sethostname: 7,
  setdomainname: 8,
  loopbackUp: 9,
  setgroups: 10,
  setgid: 11,
  setuid: 12,
  personality: 13,
  setsid: 14,
  noCoreDumps: 15,
  umask: 16,
  dup2: 17,
  exec: 18,
  chmod: 19,
  symlink: 20,
  noNewPrivileges: 21,
  umountDetach: 22,
  rmdir: 23,
  chroot: 24,
  closeOtherFds: 25,
  openStdinNull: 26,
  setAffinity: 27,
} as const;

export interface Operation {
  op: number;
  a?: number | bigint;
  b?: number | bigint;
  c?: number | bigint;
  strings?: ReadonlyArray<string | Uint8Array | null>;
  /** "mount /proc", "pivot_root into /x": what failed, for the error message. */
  what: string;
}

const WORDS = 8;

export interface EncodedOperations {
  ops: BigInt64Array;
  strings: Uint8Array;
  /** Buffers whose pointers were taken: kept alive until the launch returns. */
  keepAlive: unknown[];
}

/** A NUL-terminated array of pointers to NUL-terminated strings (argv, envp). */
export function cStringArray(items: ReadonlyArray<string | Uint8Array>, keepAlive: unknown[]): bigint {
  const buffers = items.map((item) => Buffer.concat([typeof item === "string" ? Buffer.from(item) : Buffer.from(item), Buffer.alloc(1)]));
  const array = new BigUint64Array(items.length + 1);
  buffers.forEach((b, i) => {
    array[i] = BigInt(ptr(b));
  });
  keepAlive.push(buffers, array);
  return BigInt(ptr(array));
}

export function encodeOperations(operations: readonly Operation[]): EncodedOperations {
  const ops = new BigInt64Array((operations.length + 1) * WORDS);
  const parts: Buffer[] = [];
  let size = 0;
  const addString = (value: string | Uint8Array | null): bigint => {
    if (value === null) return -1n;
    const bytes = Buffer.concat([typeof value === "string" ? Buffer.from(value) : Buffer.from(value), Buffer.alloc(1)]);
    const offset = size;
    parts.push(bytes);
    size += bytes.length;
    return BigInt(offset);
  };
  operations.forEach((operation, i) => {
    const base = i * WORDS;
    ops[base] = BigInt(operation.op);
    ops[base + 1] = BigInt(operation.a ?? 0);
    ops[base + 2] = BigInt(operation.b ?? 0);
    ops[base + 3] = BigInt(operation.c ?? 0);
    for (let s = 0; s < 4; s++) ops[base + 4 + s] = s < (operation.strings?.length ?? 0) ? addString(operation.strings![s]!) : -1n;
  });
  return { ops, strings: Buffer.concat([...parts, Buffer.alloc(1)]), keepAlive: [] };
}
