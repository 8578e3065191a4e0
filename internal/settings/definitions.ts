/**
 * Every setting Nix 2.8 knows (settings.md 3), with its type, default and
 * old names. Settings bunix does not use yet are still listed so that a valid
 * nix.conf never draws an "unknown setting" warning.
 */
import { accessSync, constants } from "node:fs";
import { availableParallelism } from "node:os";

export type SettingType = "bool" | "int" | "string" | "path" | "list" | "set" | "sandbox" | "max-jobs" | "map" | "features";

export interface SettingDefinition {
  readonly type: SettingType;
  readonly default: string;
  readonly aliases?: readonly string[];
}

const isRoot = () => process.geteuid?.() === 0;

/** Nix adds `kvm` to the default system features when /dev/kvm can be opened read-write. */
function kvmUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function def(type: SettingType, fallback: string, aliases?: readonly string[]): SettingDefinition {
  return aliases ? { type, default: fallback, aliases } : { type, default: fallback };
}

/** Definitions; defaults computed at start-up are functions of the machine. */
export function settingDefinitions(): Record<string, SettingDefinition> {
  const cpus = String(availableParallelism());
  return {
    // store, daemon, access control
    store: def("string", process.env.NIX_REMOTE || "auto"),
    "trusted-users": def("list", "root"),
    "allowed-users": def("list", "*"),
    "build-users-group": def("string", isRoot() ? "nixbld" : ""),
    "fsync-metadata": def("bool", "true"),
    "use-sqlite-wal": def("bool", "true"),
    "sync-before-registering": def("bool", "false"),
    "gc-reserved-space": def("int", "8388608"),
    "allow-symlinked-store": def("bool", process.env.NIX_IGNORE_SYMLINK_STORE === "1" ? "true" : "false"),
    system: def("string", "x86_64-linux"),
    "extra-platforms": def("set", "i686-linux"),
    "system-features": def("set", `nixos-test benchmark big-parallel${kvmUsable() ? " kvm" : ""}`),
    "plugin-files": def("list", ""),
    "experimental-features": def("features", ""),
    "lock-cpu": def("bool", "false"),
    "nar-buffer-size": def("int", "33554432"),
    // substituters and signatures
    substituters: def("list", "https://cache.nixos.org/", ["binary-caches"]),
    "trusted-substituters": def("set", "", ["trusted-binary-caches"]),
    "trusted-public-keys": def("list", "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=", ["binary-cache-public-keys"]),
    "secret-key-files": def("list", ""),
    "require-sigs": def("bool", "true"),
    substitute: def("bool", "true", ["build-use-substitutes"]),
    fallback: def("bool", "false", ["build-fallback"]),
    "builders-use-substitutes": def("bool", "false"),
    "narinfo-cache-positive-ttl": def("int", "2592000"),
    "narinfo-cache-negative-ttl": def("int", "3600"),
    "http-connections": def("int", "25", ["binary-caches-parallel-connections"]),
    "connect-timeout": def("int", "0"),
    "stalled-download-timeout": def("int", "300"),
    "download-attempts": def("int", "5"),
    http2: def("bool", "true"),
    "user-agent-suffix": def("string", ""),
    "netrc-file": def("string", `${process.env.NIX_CONF_DIR ?? "/etc/nix"}/netrc`),
    "tarball-ttl": def("int", "3600"),
    "hashed-mirrors": def("list", ""),
    "access-tokens": def("map", ""),
    // builds
    "max-jobs": def("max-jobs", "1", ["build-max-jobs"]),
    cores: def("int", cpus, ["build-cores"]),
    timeout: def("int", "0", ["build-timeout"]),
    "max-silent-time": def("int", "0", ["build-max-silent-time"]),
    "max-build-log-size": def("int", "0", ["build-max-log-size"]),
    "log-lines": def("int", "10"),
    "keep-failed": def("bool", "false"),
    "keep-going": def("bool", "false"),
    "keep-build-log": def("bool", "true", ["build-keep-log"]),
    "compress-build-log": def("bool", "true", ["build-compress-log"]),
    repeat: def("int", "0", ["build-repeat"]),
    "enforce-determinism": def("bool", "true"),
    "run-diff-hook": def("bool", "false"),
    "diff-hook": def("string", ""),
    "post-build-hook": def("string", ""),
    "pre-build-hook": def("string", ""),
    "build-hook": def("string", ""),
    builders: def("string", `@${process.env.NIX_CONF_DIR ?? "/etc/nix"}/machines`),
    "build-poll-interval": def("int", "5"),
    "impersonate-linux-26": def("bool", "false", ["build-impersonate-linux-26"]),
    "allow-new-privileges": def("bool", "false"),
    "filter-syscalls": def("bool", "true"),
    "ignored-acls": def("set", "security.selinux system.nfs4_acl"),
    "show-trace": def("bool", "false"),
    "print-missing": def("bool", "true"),
    "warn-dirty": def("bool", "true"),
    "pure-eval": def("bool", "false"),
    "restrict-eval": def("bool", "false"),
    "allowed-uris": def("list", ""),
    "allow-import-from-derivation": def("bool", "true"),
    "allow-unsafe-native-code-during-evaluation": def("bool", "false"),
    "eval-cache": def("bool", "true"),
    "flake-registry": def("string", "https://github.com/NixOS/flake-registry/raw/master/flake-registry.json"),
    "accept-flake-config": def("bool", "false"),
    "commit-lockfile-summary": def("string", ""),
    "keep-env-derivations": def("bool", "false", ["env-keep-derivations"]),
    "preallocate-contents": def("bool", "false"),
    "use-case-hack": def("bool", "false"),
    "use-xdg-base-directories": def("bool", "false"),
    // sandbox
    sandbox: def("sandbox", "true", ["build-use-chroot", "build-use-sandbox"]),
    "sandbox-paths": def("set", "", ["build-chroot-dirs", "build-sandbox-paths"]),
    "sandbox-fallback": def("bool", "true"),
    "sandbox-build-dir": def("string", "/build"),
    "sandbox-dev-shm-size": def("string", "50%"),
    "allowed-impure-host-deps": def("set", ""),
    // garbage collector and optimiser
    "keep-outputs": def("bool", "false", ["gc-keep-outputs"]),
    "keep-derivations": def("bool", "true", ["gc-keep-derivations"]),
    "auto-optimise-store": def("bool", "false"),
    "min-free": def("int", "0"),
    "max-free": def("int", "18446744073709551615"),
    "min-free-check-interval": def("int", "5"),
  };
}
