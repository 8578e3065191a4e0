/**
 * The setup a sandboxed builder goes through (formats.md 6.4), as operations
 * for launcher.c. Everything that creates files was done beforehand by
 * chroot.ts; here there are only namespaces, mounts and identity changes:
 *
 *   unshare(user?, mount, pid, ipc, uts, net?) -> [uid/gid maps] -> fork (PID 1)
 *   -> make / private -> bind mounts (inputs read-only, sandbox paths, devices,
 *   the build dir) -> /proc, /dev/shm, /dev/pts -> hostname, domain name,
 *   loopback -> pivot_root into the chroot, detach the old root
 *   -> build user -> session, limits, umask, stdio -> exec
 */
import { ptr } from "bun:ffi";
import { affinityBeforeLock, cpuMask } from "./affinity.ts";
import { Op, type Operation, cStringArray } from "./ops.ts";

export const CLONE = { newns: 0x00020000, newuts: 0x04000000, newipc: 0x08000000, newuser: 0x10000000, newpid: 0x20000000, newnet: 0x40000000 };
export const MS = { rdonly: 1, nosuid: 2, nodev: 4, noexec: 8, remount: 32, bind: 4096, rec: 16384, private: 1 << 18 };

/** personality(2) flags. */
export const PERSONALITY = { linux32: 0x0008, addrNoRandomize: 0x0040000, uname26: 0x0020000 };

export interface BindMount {
  /** Host path. */
  source: string;
  /** Path inside the sandbox. */
  target: string;
  readOnly: boolean;
  /** Mount flags the source mount has that a user namespace locks (nosuid, nodev, noexec). */
  lockedFlags: number;
}

export interface Identity {
  uid: number;
  gid: number;
  /** Supplementary groups (empty in a user namespace). */
  groups: readonly number[];
}

export interface SandboxPlan {
  /** Host directory that becomes the root (prepared by chroot.ts). */
  root: string;
  userNamespace: boolean;
  privateNetwork: boolean;
  binds: readonly BindMount[];
  shmSize: string;
  /** Where the build dir is inside the sandbox. */
  workingDirectory: string;
  identity: Identity;
  personality: number;
  stdoutFd: number;
  builder: string;
  args: readonly string[];
  env: readonly string[];
}

function inRoot(root: string, path: string): string {
  return `${root}${path}`;
}

export function sandboxOperations(plan: SandboxPlan, keepAlive: unknown[]): Operation[] {
  const ops: Operation[] = [];
  const root = plan.root;
  const flags = CLONE.newns | CLONE.newpid | CLONE.newipc | CLONE.newuts | (plan.privateNetwork ? CLONE.newnet : 0) | (plan.userNamespace ? CLONE.newuser : 0);
  ops.push({ op: Op.unshare, a: flags, what: "create the build's namespaces (unshare)" });
  if (plan.userNamespace) ops.push({ op: Op.syncUserNamespace, what: "set up the user namespace maps" });
  ops.push({ op: Op.forkPid1, what: "start the builder as PID 1 of its PID namespace" });
  ops.push({ op: Op.mount, a: MS.rec | MS.private, strings: [null, "/", null, null], what: "make all mounts private" });
  ops.push({ op: Op.mount, a: MS.bind, strings: [root, root, null, null], what: `bind mount the sandbox root '${root}'` });
  for (const bind of plan.binds) {
    const target = inRoot(root, bind.target);
    ops.push({ op: Op.mount, a: MS.bind | MS.rec, strings: [bind.source, target, null, null], what: `bind mount '${bind.source}' at '${bind.target}'` });
    if (bind.readOnly) {
      ops.push({ op: Op.mount, a: MS.remount | MS.bind | MS.rdonly | bind.lockedFlags, strings: [null, target, null, null], what: `make '${bind.target}' read-only` });
    }
  }
  ops.push({ op: Op.mount, strings: ["none", inRoot(root, "/proc"), "proc", null], what: "mount /proc" });
  ops.push({ op: Op.mount, strings: ["none", inRoot(root, "/dev/shm"), "tmpfs", `size=${plan.shmSize}`], what: "mount /dev/shm" });
  ops.push({ op: Op.mount, strings: ["none", inRoot(root, "/dev/pts"), "devpts", "newinstance,mode=0620"], what: "mount /dev/pts" });
  ops.push({ op: Op.chmod, a: 0o666, strings: [inRoot(root, "/dev/pts/ptmx")], what: "make /dev/pts/ptmx usable" });
  ops.push({ op: Op.sethostname, a: 9, strings: ["localhost"], what: "set the host name" });
  ops.push({ op: Op.setdomainname, a: 6, strings: ["(none)"], what: "set the domain name" });
  if (plan.privateNetwork) ops.push({ op: Op.loopbackUp, what: "bring up the loopback interface" });
  ops.push({ op: Op.chdir, strings: [root], what: `enter the sandbox root '${root}'` });
  ops.push({ op: Op.pivotRoot, strings: [".", "real-root"], what: "pivot into the sandbox root" });
  ops.push({ op: Op.chroot, strings: ["."], what: "change root into the sandbox" });
  ops.push({ op: Op.umountDetach, strings: ["real-root"], what: "detach the host's root file system" });
  ops.push({ op: Op.rmdir, strings: ["real-root"], what: "remove the old root's mount point" });
  ops.push(...processOperations(plan, keepAlive));
  return ops;
}

/** What every builder process gets, sandboxed or not: identity, session, limits, stdio, exec. */
export function processOperations(plan: Pick<SandboxPlan, "workingDirectory" | "identity" | "personality" | "stdoutFd" | "builder" | "args" | "env" | "userNamespace">, keepAlive: unknown[]): Operation[] {
  const ops: Operation[] = [];
  ops.push({ op: Op.chdir, strings: [plan.workingDirectory], what: `enter the build directory '${plan.workingDirectory}'` });
  if (!plan.userNamespace) {
    const groups = new Uint32Array(plan.identity.groups);
    keepAlive.push(groups);
    ops.push({ op: Op.setgroups, a: groups.length, b: groups.length > 0 ? BigInt(ptr(groups)) : 0n, what: "set the build user's groups" });
  }
  ops.push({ op: Op.setgid, a: plan.identity.gid, what: `switch to group ${plan.identity.gid}` });
  ops.push({ op: Op.setuid, a: plan.identity.uid, what: `switch to user ${plan.identity.uid}` });
  if (plan.personality !== 0) ops.push({ op: Op.personality, a: plan.personality, what: "set the process personality" });
  ops.push({ op: Op.setsid, what: "start a new session" });
  ops.push({ op: Op.noCoreDumps, what: "disable core dumps" });
  ops.push({ op: Op.umask, a: 0o022, what: "set the umask" });
  ops.push({ op: Op.openStdinNull, strings: ["/dev/null"], what: "open /dev/null as standard input" });
  ops.push({ op: Op.dup2, a: plan.stdoutFd, b: 1, what: "connect standard output to the log" });
  ops.push({ op: Op.dup2, a: plan.stdoutFd, b: 2, what: "connect standard error to the log" });
  ops.push({ op: Op.noNewPrivileges, what: "forbid new privileges" });
  const cpus = affinityBeforeLock();
  if (cpus !== undefined) {
    // The daemon's thread may be pinned to one CPU (lock-cpu); the builder must not be.
    const mask = cpuMask(cpus);
    keepAlive.push(mask);
    ops.push({ op: Op.setAffinity, a: mask.length, b: BigInt(ptr(mask)), what: "release the builder from the daemon's CPU lock" });
  }
  ops.push({ op: Op.closeOtherFds, what: "close inherited file descriptors" });
  ops.push({
    op: Op.exec,
    a: cStringArray([plan.builder.split("/").pop() ?? plan.builder, ...plan.args], keepAlive),
    b: cStringArray(plan.env, keepAlive),
    strings: [plan.builder],
    what: `execute the builder '${plan.builder}'`,
  });
  return ops;
}
