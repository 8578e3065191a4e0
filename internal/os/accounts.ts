/**
 * User and group lookups from /etc/passwd and /etc/group (Node has no
 * getpwnam/getgrnam). Good enough for build users and trust decisions on
 * systems with files-based accounts, which is where Nix's build users live.
 */
import { readFileSync } from "node:fs";

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function lines(path: string): string[][] {
  try {
    return readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.split(":"));
  } catch {
    return [];
  }
}

export function groups(file = "/etc/group"): GroupEntry[] {
  return lines(file)
    .filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? "").split(",").filter((m) => m !== "") }));
}

export function users(file = "/etc/passwd"): UserEntry[] {
  return lines(file)
    .filter((f) => f.length >= 6)
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }));
}

export function groupByName(name: string): GroupEntry | undefined {
  return groups().find((g) => g.name === name);
}

export function userByUid(uid: number): UserEntry | undefined {
  return users().find((u) => u.uid === uid);
}

/** The name of the effective user, or its uid as text when it has no entry. */
export function currentUserName(): string {
  const uid = process.geteuid?.() ?? 0;
  return userByUid(uid)?.name ?? String(uid);
}
