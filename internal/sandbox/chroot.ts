/**
 * Prepares the sandbox's root directory on the host, before the builder's
 * process exists (formats.md 6.4). Files are created here, by the parent, so
 * that the process in the user namespace only has to mount: it could not
 * create files owned by ids its namespace does not map.
 *
 *   /            0750 root:<build group>
 *   <storeDir>   1775 root:<build group>  inputs: directories bind-mounted read-only,
 *                                           other objects hard-linked (copied if that fails)
 *   /build       mount point of the build directory
 *   /dev         null zero full random urandom tty [kvm], fd stdin stdout stderr, shm/ pts/ ptmx
 *   /etc         passwd group, hosts (or nsswitch.conf and the host's resolver files)
 *   /proc /tmp   and every sandbox-paths target
 */
import { chownSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { chmodAll } from "../../ffi/files.ts";
import { lockedMountFlags } from "../../ffi/namespaces.ts";
import { SystemError } from "../errors.ts";
import { removeTree } from "../nar/restore.ts";
import type { BindMount } from "./plan.ts";

export interface SandboxPathEntry {
  /** Where it appears inside the sandbox. */
  target: string;
  /** Host path. */
  source: string;
  optional: boolean;
}

export interface ChrootSpec {
  root: string;
  storeDir: string;
  realStoreDir: string;
  /** Base names of the store objects the builder may see. */
  inputs: readonly string[];
  sandboxPaths: readonly SandboxPathEntry[];
  buildDirHost: string;
  buildDirInside: string;
  /** Fixed-output derivations keep the host network and get its resolver files. */
  hostNetwork: boolean;
  kvm: boolean;
  /** Host gid that owns the root and the store dir (the build user's group). */
  hostGid: number;
  /** Ids the builder sees, for /etc/passwd and /etc/group. */
  sandboxUid: number;
  sandboxGid: number;
}

const DEVICES = ["/dev/full", "/dev/null", "/dev/random", "/dev/tty", "/dev/urandom", "/dev/zero"];

function mountPoint(path: string, directory: boolean): void {
  mkdirSync(directory ? path : dirname(path), { recursive: true });
  if (!directory && !existsSync(path)) writeFileSync(path, "");
}

function bind(source: string, target: string, readOnly: boolean): BindMount {
  return { source, target, readOnly, lockedFlags: lockedMountFlags(source) };
}

/** Creates the root directory tree and returns the bind mounts the launcher must make. */
export function prepareChroot(spec: ChrootSpec): BindMount[] {
  const root = spec.root;
  const at = (p: string) => join(root, p);
  removeTree(root);
  try {
    mkdirSync(root, { mode: 0o750 });
    chownSync(root, 0, spec.hostGid);
    chmodAll(root, 0o750);
    mkdirSync(at(spec.storeDir), { recursive: true });
    chownSync(at(spec.storeDir), 0, spec.hostGid);
    chmodAll(at(spec.storeDir), 0o1775);
    // Recursive: the store dir may itself be under /tmp (or /etc...), and so already made.
    mkdirSync(at("tmp"), { recursive: true });
    chmodAll(at("tmp"), 0o1777);
    mkdirSync(at("proc"), { recursive: true });
    mkdirSync(at("real-root"), { mode: 0 });
    mkdirSync(at("etc"), { recursive: true });
    writeFileSync(
      at("etc/passwd"),
      `root:x:0:0:Nix build user:${spec.buildDirInside}:/noshell\nnixbld:x:${spec.sandboxUid}:${spec.sandboxGid}:Nix build user:${spec.buildDirInside}:/noshell\nnobody:x:65534:65534:Nobody:/:/noshell\n`,
    );
    writeFileSync(at("etc/group"), `root:x:0:\nnixbld:!:${spec.sandboxGid}:\nnogroup:x:65534:\n`);
    mkdirSync(at("dev/shm"), { recursive: true });
    mkdirSync(at("dev/pts"));
    for (const [name, target] of [["fd", "/proc/self/fd"], ["stdin", "/proc/self/fd/0"], ["stdout", "/proc/self/fd/1"], ["stderr", "/proc/self/fd/2"], ["ptmx", "/dev/pts/ptmx"]] as const) {
      symlinkSync(target, at(`dev/${name}`));
    }
  } catch (error) {
    throw new SystemError(`preparing the sandbox root '${root}'`, error);
  }

  const binds: BindMount[] = [];
  for (const device of [...DEVICES, ...(spec.kvm ? ["/dev/kvm"] : [])]) {
    mountPoint(at(device), false);
    binds.push(bind(device, device, false));
  }
  if (spec.hostNetwork) {
    writeFileSync(at("etc/nsswitch.conf"), "hosts: files dns\nservices: files\n");
    for (const file of ["/etc/resolv.conf", "/etc/services", "/etc/hosts"]) {
      if (!existsSync(file)) continue;
      mountPoint(at(file), false);
      binds.push(bind(file, file, true));
    }
  } else {
    writeFileSync(at("etc/hosts"), "127.0.0.1 localhost\n::1 localhost\n");
  }

  for (const name of spec.inputs) {
    const source = join(spec.realStoreDir, name);
    const target = join(spec.storeDir, name);
    const stat = lstatSync(source);
    if (stat.isDirectory()) {
      mountPoint(at(target), true);
      binds.push(bind(source, target, true));
    } else {
      try {
        linkSync(source, at(target));
      } catch {
        copyFileSync(source, at(target));
      }
    }
  }

  binds.push(...sandboxPathBinds(root, spec.sandboxPaths));
  mountPoint(at(spec.buildDirInside), true);
  binds.push(bind(spec.buildDirHost, spec.buildDirInside, false));
  return binds;
}

/** Mount points in the prepared root for `sandbox-paths` entries (and those of the pre-build hook). */
export function sandboxPathBinds(root: string, entries: readonly SandboxPathEntry[]): BindMount[] {
  const binds: BindMount[] = [];
  for (const entry of entries) {
    let stat;
    try {
      stat = lstatSync(entry.source);
    } catch (error) {
      if (entry.optional && (error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new SystemError(`getting attributes of sandbox path '${entry.source}'`, error);
    }
    mountPoint(join(root, entry.target), stat.isDirectory());
    binds.push(bind(entry.source, entry.target, false));
  }
  return binds;
}
