/**
 * The `pre-build-hook` (settings.md 4.2): run as `<hook> <drv path> <sandbox
 * root>` before a sandboxed build; its output may add sandbox paths:
 *
 *   extra-sandbox-paths        (or extra-chroot-dirs)
 *   /path  or  /target=/source
 *   <empty line>
 */
import { BuildError } from "./errors.ts";
import type { SandboxPathSetting } from "./inputs.ts";

export async function runPreBuildHook(hook: string, drvPath: string, sandboxRoot: string): Promise<SandboxPathSetting[]> {
  if (hook === "") return [];
  const proc = Bun.spawn([hook, drvPath, sandboxRoot], { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  const output = await new Response(proc.stdout).text();
  const code = await proc.exited;
  if (code !== 0) throw new BuildError(`pre-build hook '${hook}' failed with exit code ${code}`);
  const entries: SandboxPathSetting[] = [];
  let inBlock = false;
  for (const line of output.split("\n")) {
    if (!inBlock) {
      if (line === "") continue;
      if (line === "extra-sandbox-paths" || line === "extra-chroot-dirs") {
        inBlock = true;
        continue;
      }
      throw new BuildError(`unknown pre-build hook command '${line}'`);
    }
    if (line === "") {
      inBlock = false;
      continue;
    }
    const eq = line.indexOf("=");
    entries.push(eq < 0 ? { target: line, source: line, optional: false } : { target: line.slice(0, eq), source: line.slice(eq + 1), optional: false });
  }
  return entries;
}
