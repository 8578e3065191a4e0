/**
 * Building one derivation whose inputs are valid: lock its outputs, decide on
 * the sandbox, take a build user, prepare the build directory, environment and
 * sandbox root, run the builder under its limits, then check, install and
 * register the outputs. Everything temporary is removed afterwards (the build
 * directory is kept on failure with keep-failed).
 */
import { chownSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateDerivation } from "../derivation/validate.ts";
import type { Derivation } from "../derivation/types.ts";
import { toBytes, toUtf8 } from "../derivation/types.ts";
import { removeTree, removeTreeLater } from "../nar/restore.ts";
import { prepareChroot, sandboxPathBinds } from "../sandbox/chroot.ts";
import { killUser } from "../sandbox/launcher.ts";
import { PERSONALITY, processOperations, sandboxOperations } from "../sandbox/plan.ts";
import { signalProcess } from "../../ffi/process.ts";
import type { StorePath } from "../store-path/store-path.ts";
import { globalStateDir } from "../settings/store-location.ts";
import { PathLocks } from "../store/locks.ts";
import { checkPath } from "../store/verify-path.ts";
import type { LocalStore } from "../store/local-store.ts";
import { SANDBOX_GID, SANDBOX_UID, acquireBuildUser } from "./build-user.ts";
import { outputPlaceholder, prepareEnvironment, rewriteStrings } from "./environment.ts";
import { BuildError } from "./errors.ts";
import { inputClosure, outputPaths, parseSandboxPaths, readStoreDerivation, storePathsAmong } from "./inputs.ts";
import { BuildLog, logPath } from "./logs.ts";
import { type BuiltOutput, processOutputs } from "./outputs.ts";
import { runPreBuildHook } from "./pre-build-hook.ts";
import { referenceGraphs } from "./reference-graphs.ts";
import { runBuilder } from "./run-builder.ts";
import { checkPlatform, sandboxDecision } from "./policy.ts";

export type BuildMode = "normal" | "check" | "repair";

export interface BuildOptions {
  mode: BuildMode;
  keepFailed: boolean;
  /** Each line of the builder's output. */
  onLogLine?: (line: string) => void;
  /** Called once the builder is about to start (the outputs are locked and still need building). */
  onStart?: () => void;
  /** Stops the build: the builder is killed and nothing is registered. */
  signal?: AbortSignal;
  /** The derivation itself when it is not read from `drvPath` (BuildDerivation sends it inline). */
  derivation?: Derivation;
  /** While true the builder's output is left unread (its reader, a daemon client, is behind). */
  paused?: () => boolean;
}

export interface DerivationBuildResult {
  outputs: Map<string, StorePath>;
  /** False when every output was already valid. */
  built: boolean;
}

function makeBuildDir(drvPath: StorePath, owner: { uid: number; gid: number }): string {
  const base = process.env.TMPDIR || tmpdir();
  for (let n = 0; ; n++) {
    const dir = join(base, `nix-build-${drvPath.name}-${n}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw error;
    }
    chownSync(dir, owner.uid, owner.gid);
    return dir;
  }
}

export async function buildDerivation(store: LocalStore, drvPath: StorePath, options: BuildOptions): Promise<DerivationBuildResult> {
  const drvText = store.print(drvPath);
  const drv: Derivation = options.derivation ?? readStoreDerivation(store, drvPath);
  const kinds = validateDerivation(drv, store.storeDir);
  const outputs = outputPaths(store, drv, drvPath);
  const settings = store.settings;
  const structuredText = drv.env.get("__json");
  const structured = structuredText === undefined ? undefined : (JSON.parse(toUtf8(structuredText)) as Record<string, unknown>);
  const platform = checkPlatform(drv, drvText, settings, structured);
  const locks = await PathLocks.acquireAsync([...outputs.values()].map((p) => store.realPath(p)));
  let succeeded = false;
  try {
    for (const path of outputs.values()) store.tempRoots.add(store.print(path));
    const valid = [...outputs.values()].every((p) => store.isValid(p));
    // Repair rebuilds only what is missing or corrupt (another process may have repaired it meanwhile).
    if ((options.mode === "normal" && valid) || (options.mode === "repair" && valid && [...outputs.values()].every((p) => checkPath(store, p).status === "ok"))) {
      succeeded = true;
      return { outputs, built: false };
    }
    if (options.mode === "check" && !valid) throw new BuildError(`some outputs of '${drvText}' are not valid, so checking is not possible`);

    const fixedOutput = [...kinds.values()].every((k) => k.kind === "fixed");
    const sandbox = sandboxDecision(store, drv, drvText, structured, fixedOutput);
    const sandboxPaths = sandbox.sandboxed ? parseSandboxPaths(settings.list("sandbox-paths")) : [];
    const inputs = inputClosure(store, drv, storePathsAmong(store, sandboxPaths));
    const user = await acquireBuildUser(settings, globalStateDir());
    const runAsRoot = !sandbox.sandboxed && settings.string("build-users-group") === "";
    const owner = runAsRoot ? { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 } : { uid: user.uid, gid: user.gid };
    const buildDir = makeBuildDir(drvPath, owner);
    const chroot = join(store.realStoreDir, `${drvPath.baseName}.chroot`);
    let failed = true;
    try {
      const buildDirInside = sandbox.sandboxed ? settings.string("sandbox-build-dir") : buildDir;
      const outputLocations = new Map([...outputs].map(([name, path]) => [name, store.print(path)]));
      const env = prepareEnvironment({
        drv,
        storeDir: store.storeDir,
        outputs: outputLocations,
        buildDirHost: buildDir,
        buildDirInside,
        cores: settings.int("cores"),
        fixedOutput,
        callerEnv: process.env,
        structured,
        referenceGraphs: referenceGraphs(store, drv, structured, inputs),
        owner,
      });
      const envStrings = [...env].map(([k, v]) => toBytes(`${k}=${v}`));
      // Output placeholders in the arguments become the output paths, as in the environment.
      const placeholders = new Map([...outputLocations].map(([name, path]) => [outputPlaceholder(name), path]));
      const args = drv.args.map((a) => toUtf8(rewriteStrings(a, placeholders)));
      const log = new BuildLog(settings.bool("keep-build-log") ? logPath(store.logDir, drvPath) : undefined, settings.int("log-lines"), options.onLogLine);
      const limits = { timeout: settings.int("timeout"), maxSilentTime: settings.int("max-silent-time"), maxLogSize: settings.int("max-build-log-size") };
      // Sandboxed builds always see uid 1000 / gid 100 through a user namespace, as in Nix 2.8,
      // whether the host ids are a build user's or allocated; unsandboxed ones run as the build user.
      const identity = sandbox.sandboxed ? { uid: SANDBOX_UID, gid: SANDBOX_GID, groups: [] } : runAsRoot ? { ...owner, groups: [] } : { uid: user.uid, gid: user.gid, groups: user.groups };
      const personality = PERSONALITY.addrNoRandomize | (platform === "i686-linux" ? PERSONALITY.linux32 : 0);
      const builder = toUtf8(drv.builder);
      if (sandbox.sandboxed) {
        const realSource = (source: string) => (source.startsWith(`${store.storeDir}/`) ? join(store.realStoreDir, source.slice(store.storeDir.length + 1)) : source);
        const binds = prepareChroot({
          root: chroot,
          storeDir: store.storeDir,
          realStoreDir: store.realStoreDir,
          inputs: inputs.map((p) => p.baseName),
          sandboxPaths: sandboxPaths.map((e) => ({ ...e, source: realSource(e.source) })),
          buildDirHost: buildDir,
          buildDirInside,
          hostNetwork: fixedOutput,
          kvm: settings.list("system-features").includes("kvm") && existsSync("/dev/kvm"),
          hostGid: user.gid,
          sandboxUid: SANDBOX_UID,
          sandboxGid: SANDBOX_GID,
        });
        // As Nix, the hook runs once the sandbox root is there (it gets its path).
        const hook = await runPreBuildHook(settings.string("pre-build-hook"), drvText, chroot);
        binds.push(...sandboxPathBinds(chroot, hook.map((e) => ({ ...e, source: realSource(e.source) }))));
        options.onStart?.();
        await runBuilder({
          operations: (stdoutFd, keepAlive) =>
            sandboxOperations({ root: chroot, userNamespace: true, privateNetwork: !fixedOutput, binds, shmSize: settings.string("sandbox-dev-shm-size"), workingDirectory: buildDirInside, identity, personality, stdoutFd, builder, args, env: envStrings.map((e) => Buffer.from(e).toString("latin1")), }, keepAlive),
          maps: { uidMap: `${SANDBOX_UID} ${user.uid} 1`, gidMap: `${SANDBOX_GID} ${user.gid} 1` },
          log,
          limits,
          drvPath: drvText,
          signal: options.signal,
          paused: options.paused,
        });
      } else {
        // An invalid leftover of an earlier attempt would be in the builder's way (Nix deletes them too).
        for (const path of outputs.values()) if (!store.isValid(path)) removeTree(store.realPath(path));
        options.onStart?.();
        await runBuilder({
          operations: (stdoutFd, keepAlive) => processOperations({ workingDirectory: buildDir, identity, personality, stdoutFd, builder, args, env: envStrings.map((e) => Buffer.from(e).toString("latin1")), userNamespace: false }, keepAlive),
          maps: undefined,
          log,
          limits,
          drvPath: drvText,
          signal: options.signal,
          paused: options.paused,
          // The builder leads its own session: its process group, or every process of the build user.
          killLeftovers: (pid) => (runAsRoot ? signalProcess(-pid, 9) : killUser(user.uid)),
        });
      }
      const built: BuiltOutput[] = [...outputs].map(([name, path]) => ({
        name,
        path,
        kind: kinds.get(name)!,
        builtAt: sandbox.sandboxed ? join(chroot, store.storeDir, path.baseName) : store.realPath(path),
      }));
      try {
        processOutputs({ store, drvPath, drv, structured, outputs: built, inputs, buildUid: owner.uid, check: options.mode === "check" });
      } catch (error) {
        // The builder succeeded: what fails now are its outputs (Nix's OutputRejected).
        if (error instanceof BuildError && error.kind === "other") error.as("output-rejected");
        throw error;
      }
      failed = false;
      succeeded = true;
      return { outputs, built: true };
    } catch (error) {
      // For Nix a failing fixed-output builder is not a permanent failure (it may be the network).
      if (fixedOutput && error instanceof BuildError && error.kind === "builder-failed") error.as("transient");
      throw error;
    } finally {
      user.release();
      if (sandbox.sandboxed) removeTreeLater(chroot);
      if (!failed || !options.keepFailed) removeTreeLater(buildDir);
      else process.stderr.write(`note: keeping build directory '${buildDir}'\n`);
    }
  } finally {
    locks.release(succeeded);
  }
}
