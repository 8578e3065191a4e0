/**
 * A store for garbage-collector tests, populated by real Nix and by bunix,
 * with roots of every kind. It is an ordinary store (store directory = real
 * directory, chosen by NIX_STORE_DIR / NIX_STATE_DIR), so that runtime roots
 * (a process's cwd, open files, environment) look the same to both tools.
 */
import { chmodSync, closeSync, mkdirSync, openSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT, nixEnv, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";

export const EXPR = String.raw`
let
  mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
  leaf = mk { name = "leaf"; args = [ "-c" "echo leaf > $out" ]; };
  multi = mk {
    name = "multi"; outputs = [ "out" "dev" "lib" ];
    args = [ "-c" "mkdir -p $out/share; echo ${"$"}{leaf} > $out/share/ref; echo $out > $dev; echo lib > $lib" ];
  };
  top = mk { name = "top"; args = [ "-c" "echo ${"$"}{multi.dev} > $out" ]; };
  dir = mk { name = "dir"; args = [ "-c" "mkdir -p $out/sub; echo same > $out/sub/a; echo same > $out/sub/b; echo ${"$"}{leaf} > $out/ref" ]; };
  envHeld = mk { name = "env-held"; args = [ "-c" "echo env > $out" ]; };
  fdHeld = mk { name = "fd-held"; args = [ "-c" "echo fd > $out" ]; };
  drvRooted = mk { name = "drv-rooted"; outputs = [ "out" "doc" ]; args = [ "-c" "echo ${"$"}{leaf} > $out; echo doc > $doc" ]; };
  unrooted = mk { name = "unrooted"; args = [ "-c" "echo ${"$"}{top} > $out" ]; };
  onlyInstantiated = mk { name = "only-instantiated"; args = [ "-c" "echo never > $out" ]; };
in { inherit leaf multi top dir envHeld fdHeld drvRooted unrooted onlyInstantiated; }
`;

export interface GcFixture {
  dir: string;
  storeDir: string;
  stateDir: string;
  /** Environment for both tools: this store, private Nix config. */
  env: Record<string, string>;
  /** attribute name -> output path (out), built */
  out: Record<string, string>;
  drv: Record<string, string>;
  /** Helper processes (runtime and temporary roots); kill them at the end. */
  holders: Array<{ kill(): void }>;
  /** Recreates the junk entries (Nix deletes them even when only printing). */
  makeJunk(): void;
  junk: string[];
}

const SLEEP = Bun.which("sleep") ?? "/bin/sleep";
const bunixArgv = (bunix: string, args: string[]) => [bunix, ...args];

export async function buildFixture(bunix: string): Promise<GcFixture> {
  const dir = scratchDir("gc");
  const storeDir = join(dir, "store");
  const stateDir = join(dir, "var");
  const env = nixEnv({ NIX_STORE_DIR: storeDir, NIX_STATE_DIR: stateDir, NIX_LOG_DIR: join(dir, "log") });
  const nix = (argv: string[], cwd?: string) => runOk(argv, { env, cwd }).toString().trim();
  writeFileSync(join(dir, "expr.nix"), EXPR);
  const expr = join(dir, "expr.nix");
  const attrs = ["leaf", "multi", "top", "dir", "envHeld", "fdHeld", "drvRooted", "unrooted", "onlyInstantiated"];
  const drv: Record<string, string> = {};
  for (const attr of attrs) drv[attr] = nix(["nix-instantiate", expr, "-A", attr]);
  const out: Record<string, string> = {};
  for (const attr of attrs.filter((a) => a !== "onlyInstantiated")) out[attr] = nix(["nix-build", "--no-out-link", expr, "-A", attr]);
  out["multi.dev"] = nix(["nix-build", "--no-out-link", expr, "-A", "multi.dev"]);
  out["multi.lib"] = nix(["nix-build", "--no-out-link", expr, "-A", "multi.lib"]);
  out["drvRooted.doc"] = nix(["nix-build", "--no-out-link", expr, "-A", "drvRooted.doc"]);

  // Indirect root: a ./result in a project directory, through gcroots/auto/.
  const project = join(dir, "project");
  mkdirSync(project);
  nix(["nix-build", expr, "-A", "top", "-o", join(project, "result")], project);
  // Direct root, a per-user root, a .drv root, a profile, a stale auto/ link.
  const gcroots = join(stateDir, "gcroots");
  symlinkSync(out["leaf"]!, join(gcroots, "direct-leaf"));
  mkdirSync(join(gcroots, "per-user", "tester"), { recursive: true });
  symlinkSync(drv["drvRooted"]!, join(gcroots, "per-user", "tester", "drv-root"));
  mkdirSync(join(stateDir, "profiles"), { recursive: true });
  symlinkSync("dirprof-1-link", join(stateDir, "profiles", "dirprof"));
  symlinkSync(out["dir"]!, join(stateDir, "profiles", "dirprof-1-link"));
  mkdirSync(join(gcroots, "auto"), { recursive: true });
  symlinkSync(join(dir, "gone", "result"), join(gcroots, "auto", "00000000000000000000000000000000"));

  // Paths added by both tools; one rooted by a regular file named after it.
  writeFileSync(join(dir, "added-by-nix.txt"), "added by nix\n");
  out["nixAdded"] = nix(["nix-store", "--add", join(dir, "added-by-nix.txt")]);
  mkdirSync(join(dir, "tree/sub"), { recursive: true });
  writeFileSync(join(dir, "tree/a"), "same\n");
  writeFileSync(join(dir, "tree/sub/b"), "same\n");
  out["bunixTree"] = runOk(bunixArgv(bunix, ["store", "add", join(dir, "tree")]), { env }).toString().trim();
  writeFileSync(join(dir, "text"), `refers to ${out["bunixTree"]}\n`);
  out["bunixText"] = runOk(bunixArgv(bunix, ["store", "add-text", "refers", join(dir, "text")]), { env }).toString().trim();
  writeFileSync(join(gcroots, out["bunixText"]!.slice(storeDir.length + 1)), "");
  writeFileSync(join(dir, "temp-held.txt"), "held by a temporary root\n");
  out["tempHeld"] = runOk(bunixArgv(bunix, ["store", "add", join(dir, "temp-held.txt")]), { env }).toString().trim();

  // Runtime roots: a cwd, an open file, an environment variable; and a temporary root.
  const holders: GcFixture["holders"] = [];
  holders.push(Bun.spawn([SLEEP, "100000"], { cwd: join(out["dir"]!, "sub"), stdout: "ignore", stderr: "ignore" }));
  const heldFile = openSync(out["fdHeld"]!, "r");
  holders.push(Bun.spawn([SLEEP, "100000"], { stdin: heldFile, stdout: "ignore", stderr: "ignore" }));
  closeSync(heldFile);
  holders.push(Bun.spawn([SLEEP, "100000"], { env: { HELD: `x:${out["envHeld"]}/bin:y` }, stdout: "ignore", stderr: "ignore" }));
  const holder = Bun.spawn(
    ["bun", "-e", `const { TempRoots } = await import(${JSON.stringify(join(PROJECT, "internal/store/temp-roots.ts"))}); new TempRoots(${JSON.stringify(stateDir)}).add(${JSON.stringify(out["tempHeld"])}); console.log("held"); await Bun.sleep(1e9);`],
    { stdout: "pipe", stderr: "inherit" },
  );
  holders.push(holder);
  await holder.stdout.getReader().read();

  const junk = ["junkfile", "junkdir", `${out["leaf"]!.slice(storeDir.length + 1)}.lock`, "00000000000000000000000000000000-invalid"];
  const makeJunk = () => {
    writeFileSync(join(storeDir, "junkfile"), "junk");
    mkdirSync(join(storeDir, "junkdir", "sub"), { recursive: true });
    writeFileSync(join(storeDir, "junkdir", "sub", "f"), "junk");
    chmodSync(join(storeDir, "junkdir", "sub"), 0o555);
    writeFileSync(join(storeDir, junk[2]!), "");
    writeFileSync(join(storeDir, junk[3]!), "invalid leftover");
  };
  makeJunk();
  return { dir, storeDir, stateDir, env, out, drv, holders, makeJunk, junk };
}
