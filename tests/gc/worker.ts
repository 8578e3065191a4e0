/**
 * One worker of the GC concurrency test. For `seconds` it adds paths to a
 * shared store while collectors run: `bunix store add`, real `nix-store
 * --add` and real `nix-build` (of a derivation depending on a shared,
 * unrooted one). Like any well-behaved client it first claims each path with
 * a temporary root of its own (this process lives on, so the root stays),
 * then creates it and checks it is valid; a path that was collected before
 * it could be claimed is simply made again. At the end, still holding every
 * root, it checks that every path it holds is valid and writes a JSON report.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDerivation } from "../../internal/derivation/aterm-parse.ts";
import { computeAddPath } from "../../internal/store/add-path.ts";
import { TempRoots } from "../../internal/store/temp-roots.ts";

const [bunix, root, work, secondsText, idText] = process.argv.slice(2) as [string, string, string, string, string];
const id = Number(idText);
const deadline = Date.now() + Number(secondsText) * 1000;
const stateDir = join(root, "nix/var/nix");
const roots = new TempRoots(stateDir);
const env = { ...process.env } as Record<string, string>;

const held: string[] = [];
const failures: string[] = [];
const counts = { bunixAdd: 0, nixAdd: 0, nixBuild: 0, retries: 0 };

async function run(argv: string[]): Promise<string | undefined> {
  const proc = Bun.spawn(argv, { env, stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) {
    failures.push(`${argv.slice(0, 3).join(" ")} exited ${code}: ${stderr.trim()}`);
    return undefined;
  }
  return stdout.trim();
}

async function valid(paths: string[]): Promise<boolean> {
  const out = await run(["nix-store", "--store", root, "--check-validity", "--print-invalid", ...paths]);
  return out === "";
}

async function addFile(n: number, tool: "bunix" | "nix"): Promise<void> {
  const file = join(work, `w${id}-${n}.txt`);
  writeFileSync(file, `worker ${id} item ${n} ${Math.random()}\n`);
  const path = computeAddPath(file, { method: "recursive", algorithm: "sha256", name: undefined }, "/nix/store").path.in("/nix/store");
  roots.add(path);
  const argv = tool === "bunix" ? [bunix, "store", "add", file, "--store", root] : ["nix-store", "--store", root, "--add", file];
  const out = await run(argv);
  if (out === undefined) return;
  if (out !== path) failures.push(`${tool} added ${out}, expected ${path}`);
  held.push(path);
  if (tool === "bunix") counts.bunixAdd++;
  else counts.nixAdd++;
}

async function build(n: number): Promise<void> {
  const expr = join(work, `w${id}-${n}.nix`);
  writeFileSync(
    expr,
    `let mk = a: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // a);
       base = mk { name = "shared-base"; args = [ "-c" "echo base > $out" ]; };
     in mk { name = "w${id}-${n}"; args = [ "-c" "echo \${base} ${n} > $out" ]; }`,
  );
  for (let attempt = 0; attempt < 5; attempt++) {
    const drv = await run(["nix-instantiate", "--store", root, expr]);
    if (drv === undefined) return;
    roots.add(drv);
    // The .drv may have been collected between nix-instantiate and our root: make it again.
    if (!(await valid([drv]))) {
      counts.retries++;
      continue;
    }
    const output = parseDerivation(readFileSync(join(root, drv))).outputs.get("out")!.path;
    roots.add(output);
    const built = await run(["nix-build", "--store", root, "--no-out-link", drv]);
    if (built === undefined) return;
    if (built !== output) failures.push(`nix-build gave ${built}, expected ${output}`);
    held.push(drv, output);
    counts.nixBuild++;
    return;
  }
}

for (let n = 0; Date.now() < deadline && failures.length === 0; n++) {
  if (n % 3 === 0) await addFile(n, "bunix");
  else if (n % 3 === 1) await addFile(n, "nix");
  else await build(n);
}
const invalid = held.length > 0 ? ((await run(["nix-store", "--store", root, "--check-validity", "--print-invalid", ...held])) ?? "").split("\n").filter((l) => l !== "") : [];
writeFileSync(join(work, `report-${id}.json`), JSON.stringify({ held, invalid, failures, counts }));
