/**
 * nix-store -r / --realise [--dry-run] [--check] [--repair] PATHS: builds
 * derivations (`DRV` or `DRV!out,dev`), then prints each output path, or,
 * with --add-root, the root link made for it (root, root-2, root-dev, ...).
 * Paths that are not derivations must be valid and are printed as they are.
 */
import { outputPaths, readStoreDerivation } from "../../../internal/build/inputs.ts";
import { addIndirectRoot } from "../../../internal/build/out-links.ts";
import type { BuildTarget } from "../../../internal/build/scheduler.ts";
import { InvalidPathError } from "../../../internal/store/errors.ts";
import type { StorePath } from "../../../internal/store-path/store-path.ts";
import { buildTargets } from "../../build.ts";
import { out } from "../../cli.ts";
import { openStore } from "../../store-options.ts";
import { storePathArgument } from "../../store/arguments.ts";
import { type NixStoreInvocation, checkFlags, storeFlagsOf } from "./operations.ts";

export async function realiseOperation(invocation: NixStoreInvocation): Promise<number> {
  checkFlags(invocation, ["--dry-run", "--check", "--repair", "--ignore-unknown"]);
  const store = openStore(storeFlagsOf(invocation), "write");
  try {
    const items = invocation.operands.map((arg) => {
      const [path, outputs] = arg.split("!") as [string, string | undefined];
      const storePath = storePathArgument(store, path);
      if (!storePath.isDerivation()) return { storePath };
      const target: BuildTarget = outputs ? { drvPath: storePath, outputs: outputs.split(",") } : { drvPath: storePath };
      return { storePath, target };
    });
    for (const item of items) if (!item.target && !store.isValid(item.storePath)) throw new InvalidPathError(store.print(item.storePath));
    const targets = items.flatMap((i) => (i.target ? [i.target] : []));
    const missing = targets.filter((t) => [...outputPaths(store, readStoreDerivation(store, t.drvPath), t.drvPath).values()].some((p) => !store.isValid(p)));
    if (missing.length > 0 && store.settings.bool("print-missing")) {
      const verb = invocation.flags.includes("--dry-run") ? "would" : "will";
      process.stderr.write(`these derivations ${verb} be built:\n${missing.map((t) => `  ${store.print(t.drvPath)}\n`).join("")}`);
    }
    if (invocation.flags.includes("--dry-run")) return 0;
    const check = invocation.flags.includes("--check");
    const repair = invocation.flags.includes("--repair") || invocation.globals.has("--repair");
    const { status, outputs } = await buildTargets(store, targets, { check, repair }, { printLogs: true, prefix: false });
    if (status !== 0) return status;
    const root = invocation.globals.get("--add-root");
    let rootNumber = 0;
    const report = (path: StorePath, output: string) => {
      if (root === undefined) return store.print(path);
      rootNumber++;
      return addIndirectRoot(store, path, `${root}${rootNumber > 1 ? `-${rootNumber}` : ""}${output === "out" ? "" : `-${output}`}`);
    };
    let targetIndex = 0;
    for (const item of items) {
      if (!item.target) {
        if (!invocation.globals.has("--no-output")) out(`${report(item.storePath, "out")}\n`);
        continue;
      }
      for (const [name, path] of outputs[targetIndex++]!) if (!invocation.globals.has("--no-output")) out(`${report(path, name)}\n`);
    }
    return 0;
  } finally {
    store.close();
  }
}
