/**
 * Who may connect and who is trusted (worker-protocol.md 7): user lists of
 * names, `*` and `@group` entries, matched against the peer's user name,
 * its primary group and the groups that list it as a member.
 */
import { groups, users } from "../os/accounts.ts";
import type { Settings } from "../settings/settings.ts";

export interface Peer {
  pid: number;
  uid: number;
  gid: number;
  /** The passwd name of the uid, or the uid as text. */
  user: string;
  /** The group name of the primary gid, or the gid as text. */
  group: string;
}

export type Admission = { allowed: true; trusted: boolean } | { allowed: false; reason: string };

export function identifyPeer(pid: number, uid: number, gid: number): Peer {
  const user = users().find((u) => u.uid === uid)?.name ?? String(uid);
  const group = groups().find((g) => g.gid === gid)?.name ?? String(gid);
  return { pid, uid, gid, user, group };
}

/** Whether a user list (`trusted-users`, `allowed-users`) names this peer. */
export function matchesUserList(list: readonly string[], peer: Peer): boolean {
  const groupDb = groups();
  for (const entry of list) {
    if (entry === "*" || entry === peer.user) return true;
    if (!entry.startsWith("@")) continue;
    const name = entry.slice(1);
    if (name === peer.group) return true;
    if (groupDb.some((g) => g.name === name && g.members.includes(peer.user))) return true;
  }
  return false;
}

export function admit(settings: Settings, peer: Peer): Admission {
  const trusted = matchesUserList(settings.list("trusted-users"), peer);
  const notAllowed = { allowed: false as const, reason: `user '${peer.user}' is not allowed to connect to the Nix daemon` };
  if (!trusted && !matchesUserList(settings.list("allowed-users"), peer)) return notAllowed;
  const buildGroup = settings.string("build-users-group");
  if (buildGroup !== "" && peer.group === buildGroup) return notAllowed;
  return { allowed: true, trusted };
}
