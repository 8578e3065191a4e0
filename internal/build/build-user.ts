/**
 * Who a build runs as (store-layout.md 4.3, formats.md 6.4):
 *
 * - root with a `build-users-group` that exists and has members: the first
 *   member whose `<stateDir>/userpool/<uid>` lock is free (held for the
 *   build), with its own uid, gid and supplementary groups;
 * - root without one: an automatically allocated uid (and gid), never a real
 *   account, seen as uid 1000 / gid 100 inside a user namespace;
 * - not root: the calling user, mapped the same way.
 */
import { closeSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { groupByName, groups, users } from "../os/accounts.ts";
import type { Settings } from "../settings/settings.ts";
import { openLockFile, tryLockFd } from "../store/locks.ts";
import { BuildError } from "./errors.ts";

/** Ids of automatically allocated build users: far above any real account, as Nix's auto-allocate-uids. */
export const AUTO_UID_BASE = 872415232;
const AUTO_UID_COUNT = 4096;

export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 100;

export interface BuildUser {
  /** Host ids that own the build's files. */
  uid: number;
  gid: number;
  groups: readonly number[];
  /** A user namespace maps these ids to 1000/100; otherwise the builder runs with the host ids. */
  userNamespace: boolean;
  /** Name, for messages. */
  name: string;
  release(): void;
}

function lockSlot(dir: string, name: string): number | undefined {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  const fd = openLockFile(file);
  if (tryLockFd(fd, "exclusive", file)) return fd;
  closeSync(fd);
  return undefined;
}

/** Takes a build user; waits (polling) while all are busy. */
export async function acquireBuildUser(settings: Settings, stateDir: string): Promise<BuildUser> {
  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  if (euid !== 0) {
    return { uid: euid, gid: egid, groups: [], userNamespace: true, name: `uid ${euid}`, release: () => {} };
  }
  const pool = join(stateDir, "userpool");
  const groupName = settings.string("build-users-group");
  const group = groupName === "" ? undefined : groupByName(groupName);
  if (groupName !== "" && !group) throw new BuildError(`the group '${groupName}' specified in 'build-users-group' does not exist`);
  for (let wait = 10; ; wait = Math.min(wait * 2, 1000)) {
    if (group) {
      if (group.members.length === 0) throw new BuildError(`the build users group '${groupName}' has no members`);
      const accounts = users();
      for (const member of group.members) {
        const account = accounts.find((u) => u.name === member);
        if (!account) throw new BuildError(`the user '${member}' in the group '${groupName}' does not exist`);
        if (account.uid === euid) throw new BuildError(`the Nix user should not be a member of '${groupName}'`);
        const fd = lockSlot(pool, String(account.uid));
        if (fd === undefined) continue;
        const supplementary = groups().filter((g) => g.members.includes(member)).map((g) => g.gid);
        return { uid: account.uid, gid: group.gid, groups: supplementary, userNamespace: false, name: member, release: () => closeSync(fd) };
      }
    } else {
      for (let slot = 0; slot < AUTO_UID_COUNT; slot++) {
        const fd = lockSlot(pool, `auto-${slot}`);
        if (fd === undefined) continue;
        const id = AUTO_UID_BASE + slot;
        return { uid: id, gid: id, groups: [], userNamespace: true, name: `auto-allocated uid ${id}`, release: () => closeSync(fd) };
      }
    }
    await Bun.sleep(wait);
  }
}
