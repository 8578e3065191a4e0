/**
 * Whether and how a derivation may be built here: its platform and required
 * system features (formats.md 4.7), and whether it is sandboxed
 * (`sandbox` = true / relaxed / false, `__noChroot`, chroot stores).
 */
import type { Derivation } from "../derivation/types.ts";
import { toUtf8 } from "../derivation/types.ts";
import type { Settings } from "../settings/settings.ts";
import type { LocalStore } from "../store/local-store.ts";
import { tokenize } from "./environment.ts";
import { BuildError } from "./errors.ts";

function systemFeatures(settings: Settings): Set<string> {
  return new Set(settings.list("system-features"));
}

function requiredFeatures(drv: Derivation, structured: Record<string, unknown> | undefined): string[] {
  if (structured) {
    const value = structured.requiredSystemFeatures;
    return Array.isArray(value) ? value.map(String) : [];
  }
  return tokenize(toUtf8(drv.env.get("requiredSystemFeatures") ?? ""));
}

/** The derivation's platform, if this machine can build it; otherwise the error Nix gives. */
export function checkPlatform(drv: Derivation, drvText: string, settings: Settings, structured?: Record<string, unknown>): string {
  const platform = toUtf8(drv.platform);
  const system = settings.string("system");
  const builtin = toUtf8(drv.builder).startsWith("builtin:");
  const features = systemFeatures(settings);
  const missing = requiredFeatures(drv, structured).filter((f) => !features.has(f));
  const platformOk = builtin || platform === system || settings.list("extra-platforms").includes(platform);
  if (!platformOk || missing.length > 0) {
    const required = requiredFeatures(drv, structured);
    throw new BuildError(
      `a '${platform}' with features {${required.join(", ")}} is required to build '${drvText}', but I am a '${system}' with features {${[...features].sort().join(", ")}}`,
    );
  }
  if (settings.string("max-jobs") === "0") throw new BuildError(`unable to start any build; either increase '--max-jobs' or enable remote builds`);
  return platform;
}

export interface SandboxDecision {
  sandboxed: boolean;
}

export function sandboxDecision(store: LocalStore, drv: Derivation, drvText: string, structured: Record<string, unknown> | undefined, fixedOutput: boolean): SandboxDecision {
  const mode = store.settings.string("sandbox");
  if (!["true", "false", "relaxed"].includes(mode)) throw new BuildError(`setting 'sandbox' has invalid value '${mode}': expected true, false or relaxed`);
  const noChroot = structured ? structured.__noChroot === true : drv.env.get("__noChroot") === "1";
  // A store whose objects are not where its paths say can only be built into through the sandbox.
  const chrootStore = store.realStoreDir !== store.storeDir;
  if (noChroot && (mode === "true" || chrootStore)) {
    throw new BuildError(`derivation '${drvText}' has '__noChroot' set, but that's not allowed when 'sandbox' is 'true'`);
  }
  if (chrootStore) return { sandboxed: true };
  if (mode === "false") return { sandboxed: false };
  if (mode === "relaxed" && (noChroot || fixedOutput)) return { sandboxed: false };
  return { sandboxed: true };
}
