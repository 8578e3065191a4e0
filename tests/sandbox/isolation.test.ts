// What a sandboxed builder sees (formats.md 6.4), observed from inside real
// builds: derivations are instantiated by real Nix into a throw-away chroot
// store and built by `bunix build --store ROOT`; each probe writes what it
// sees into $out and the tests read it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, requireNix } from "../helpers/nix.ts";
import { groupByName, users } from "../../internal/os/accounts.ts";
import {
  SANDBOX_NIX,
  type TestStore,
  buildOk,
  chrootStore,
  discard,
  hostAddress,
  instantiate,
  leftovers,
  nixQuery,
  observed,
  processesWith,
  startMarkerProcess,
} from "./support.ts";

const nonce = `${process.pid}-${Date.now()}`;
const marker = `bunix-sandbox-marker-${nonce}`;
const payload = `payload served to a fixed-output build ${nonce}\n`;
const hostIp = hostAddress();
const requests: string[] = [];

let store: TestStore;
let nixStore: TestStore;
let server: ReturnType<typeof Bun.serve>;
let markerProcess: { kill(): void };
let drvs: Record<string, string>;
let outs: Record<string, string>;

beforeAll(async () => {
  requireNix();
  bunixBinary();
  server = Bun.serve({
    hostname: "0.0.0.0",
    port: 0,
    fetch(request) {
      const path = new URL(request.url, "http://host").pathname;
      requests.push(path);
      return new Response(path === "/payload" ? payload : "reached\n");
    },
  });
  markerProcess = startMarkerProcess(marker);
  store = chrootStore("sandbox-isolation");
  const attrs = ["unrelated", "probe", "fetchLoopback", "i686", "x86_64"];
  const paths = instantiate(store, SANDBOX_NIX, attrs, {
    port: String(server.port),
    hostIp,
    payloadHash: new Bun.CryptoHasher("sha256").update(payload).digest("hex"),
  });
  drvs = Object.fromEntries(attrs.map((a, i) => [a, paths[i]!]));
  // Valid before the probe runs, so that its absence from the probe's view means something.
  const [unrelated] = await buildOk(store, [drvs.unrelated!]);
  const built = await buildOk(store, attrs.slice(1).map((a) => drvs[a]!));
  outs = { unrelated: unrelated!, ...Object.fromEntries(attrs.slice(1).map((a, i) => [a, built[i]!])) };
  // The oracle: real Nix builds the same probe in a store of its own.
  nixStore = chrootStore("sandbox-isolation-nix");
  const [nixProbe] = instantiate(nixStore, SANDBOX_NIX, ["probe"], { port: String(server.port), hostIp });
  expect(nixProbe).toBe(drvs.probe!);
  const nixBuild = Bun.spawn(["nix-build", ...nixStore.storeArgs, "--no-out-link", nixProbe!], { env: nixStore.env, stdout: "pipe", stderr: "pipe" });
  const [nixOut, nixErr, nixCode] = await Promise.all([new Response(nixBuild.stdout).text(), new Response(nixBuild.stderr).text(), nixBuild.exited]);
  if (nixCode !== 0) throw new Error(`nix-build of the probe failed: ${nixErr}`);
  expect(nixOut.trim()).toBe(outs.probe!);
}, 120_000);

afterAll(() => {
  markerProcess?.kill();
  server?.stop(true);
  discard(store);
  discard(nixStore);
});

const see = (name: string) => observed(store, outs.probe!, name);

describe("the builder's process", () => {
  test("runs as PID 1 on host 'localhost' with NIS domain '(none)'", () => {
    expect(see("pid")).toBe("1\n");
    expect(see("hostname")).toBe("localhost\n");
    expect(see("nodename")).toBe("localhost\n");
    expect(see("domainname")).toBe("(none)\n");
  });

  test("cannot see host processes", () => {
    // The marker runs on the host while the probe runs (it is visible here, so it could be seen).
    expect(processesWith(marker).length).toBeGreaterThan(0);
    expect(see("cmdlines")).not.toContain(marker);
    const pids = see("pids").trim().split("\n").map(Number);
    expect(pids).toContain(1);
    // Only the probe's shell and its few children: small pids of a fresh namespace.
    expect(pids.length).toBeLessThan(10);
    for (const pid of pids) expect(pid).toBeLessThan(100);
    expect(see("cmdlines").trim().split("\n")[0]).toStartWith("sh -c mkdir $out");
  });

  test("runs as uid 1000, gid 100, no other groups, no new privileges, in /build", () => {
    expect(see("uid")).toBe("1000\n");
    expect(see("gid")).toBe("100\n");
    expect(see("groups")).toBe("100\n");
    // A user namespace maps 1000 to an allocated host uid that is no account's.
    const [inside, outside, count] = see("uid-map").trim().split(/\s+/).map(Number);
    expect([inside, count]).toEqual([1000, 1]);
    expect(users().map((u) => u.uid)).not.toContain(outside);
    expect(outside).not.toBe(0);
    expect(see("no-new-privs")).toBe("NoNewPrivs:\t1\n");
    expect(see("pwd")).toBe("/build\n");
  });

  test("an i686-linux derivation gets the 32-bit personality", () => {
    expect(readFileSync(store.real(outs.i686!), "utf8")).toBe("i686\n");
    expect(readFileSync(store.real(outs.x86_64!), "utf8")).toBe("x86_64\n");
  });
});

describe("compared with real Nix", () => {
  test("the probe sees the same as in Nix's sandbox", () => {
    const mine = store.real(outs.probe!);
    const nix = nixStore.real(outs.probe!);
    const names = readdirSync(nix).sort();
    expect(readdirSync(mine).sort()).toEqual(names);
    // bunix also mounts the inputs read-only (Nix 2.8 relies on their permissions only).
    // And Nix maps root's uid as 1000, bunix an allocated one (checked below).
    const differ = new Set(["write-input-dir.err", "remove-input.err", "uid-map"]);
    for (const name of names.filter((n) => !differ.has(n))) {
      expect({ name, content: readFileSync(join(mine, name), "utf8") }).toEqual({ name, content: readFileSync(join(nix, name), "utf8") });
    }
    expect(readFileSync(join(nix, "write-input-dir.err"), "utf8")).toContain("Permission denied");
  });

  test("with build users the builder runs as a build user mapped to 1000:100 in a user namespace, as Nix 2.8 does", async () => {
    const [drv] = instantiate(store, SANDBOX_NIX, ["probe"], { port: String(server.port), hostIp, nonce: "build-users" });
    const [out] = await buildOk(store, ["--option", "build-users-group", "nixbld", drv!]);
    const group = groupByName("nixbld")!;
    const uids = users().filter((u) => group.members.includes(u.name)).map((u) => u.uid);
    const seen = (name: string) => readFileSync(join(store.real(out!), name), "utf8");
    expect(seen("uid")).toBe("1000\n");
    expect(seen("gid")).toBe("100\n");
    expect(seen("passwd")).toContain("\nnixbld:x:1000:100:Nix build user:/build:/noshell\n");
    // Inside uid 1000 is one build user of the group outside.
    const [inside, outside, count] = seen("uid-map").trim().split(/\s+/).map(Number);
    expect([inside, count]).toEqual([1000, 1]);
    expect(uids).toContain(outside!);
    expect(seen("pid")).toBe("1\n");
    expect(seen("hostname")).toBe("localhost\n");
    expect(seen("outside")).toBe("unreachable\n");
    expect(seen("write-input-dir")).toBe("refused\n");
    expect(seen("no-new-privs")).toBe("NoNewPrivs:\t1\n");
  });
});

describe("network", () => {
  test("only lo exists, and it is up and carries traffic", () => {
    const interfaces = see("net-dev").split("\n").slice(2).filter((l) => l.trim() !== "").map((l) => l.split(":")[0]!.trim());
    expect(interfaces).toEqual(["lo"]);
    const links = see("links").trim().split("\n");
    expect(links.length).toBe(1);
    expect(links[0]).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    expect(see("loopback")).toBe("over-loopback\n");
  });

  test("the host cannot be reached, neither at its address nor at its loopback", async () => {
    // From the host, the same server answers at both addresses.
    expect(await (await fetch(`http://${hostIp}:${server.port}/control`)).text()).toBe("reached\n");
    expect(await (await fetch(`http://127.0.0.1:${server.port}/control`)).text()).toBe("reached\n");
    expect(see("outside")).toBe("unreachable\n");
    expect(see("host-loopback")).toBe("unreachable\n");
    expect(see("outside.err")).toMatch(/Network is unreachable|timed out/);
    expect(see("host-loopback.err")).toContain("Connection refused");
    expect(requests.filter((r) => r.startsWith("/from-sandbox"))).toEqual([]);
  });

  test("a fixed-output derivation reaches a server on the host's loopback", () => {
    expect(requests).toContain("/payload");
    expect(readFileSync(store.real(outs.fetchLoopback!), "utf8")).toBe(payload);
  });
});

describe("file system", () => {
  test("/nix/store holds only the input closure and the output", () => {
    // The oracle: real Nix's closure of the probe's inputs in the same store.
    const references = nixQuery(store, "--references", [drvs.probe!]);
    const inputs = references.flatMap((r) => (r.endsWith(".drv") ? nixQuery(store, "--outputs", [r]) : [r]));
    const closure = nixQuery(store, "--requisites", inputs);
    const expected = [...closure, outs.probe!].map((p) => p.slice("/nix/store/".length)).sort();
    expect(see("store").trim().split("\n").sort()).toEqual(expected);
    expect(expected.length).toBe(5); // middle, leaf (only through middle's references), lone, src, probe
    // Valid in the store, but no input: invisible.
    expect(existsSync(store.real(outs.unrelated!))).toBe(true);
    expect(see("store")).not.toContain(outs.unrelated!.slice("/nix/store/".length));
    expect(see("store")).not.toContain(".drv");
  });

  test("/etc has the sandbox's passwd, group and hosts, and no shadow", () => {
    expect(see("etc")).toBe("group\nhosts\npasswd\n");
    expect(see("passwd")).toBe(
      "root:x:0:0:Nix build user:/build:/noshell\nnixbld:x:1000:100:Nix build user:/build:/noshell\nnobody:x:65534:65534:Nobody:/:/noshell\n",
    );
    expect(see("group")).toBe("root:x:0:\nnixbld:!:100:\nnogroup:x:65534:\n");
    expect(see("shadow")).toBe("unreadable\n");
    expect(see("shadow.err")).toContain("/etc/shadow");
  });

  test("/dev has exactly the expected nodes, and /dev/ptmx gives pseudo-terminals", () => {
    const expected = ["fd", "full", ...(existsSync("/dev/kvm") ? ["kvm"] : []), "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"];
    expect(see("dev").trim().split("\n")).toEqual(expected);
    const hex = (n: number) => n.toString(16);
    const nodes = ["full", "null", "random", "tty", "urandom", "zero"].map((d) => {
      const rdev = statSync(`/dev/${d}`).rdev;
      return `/dev/${d} character special file ${hex((rdev >> 8) & 0xfff)}:${hex((rdev & 0xff) | ((rdev >> 12) & 0xfff00))} 666\n`;
    });
    expect(see("dev-nodes")).toBe(nodes.join(""));
    expect(see("ptmx")).toBe("character special file 5:2 666\n");
    expect(see("ptmx-link")).toBe("/dev/pts/ptmx\n");
    // A fresh devpts instance: opening /dev/ptmx created its first terminal.
    expect(see("pts-open")).toBe("0\nptmx\n");
  });

  test("/tmp is an empty 1777 directory", () => {
    expect(see("tmp-mode")).toBe("1777\n");
    expect(see("tmp-contents")).toBe("");
  });

  test("inputs are read-only", () => {
    expect(see("write-input-dir")).toBe("refused\n");
    expect(see("write-input-dir.err")).toContain("Read-only file system");
    expect(see("write-input-file")).toBe("refused\n");
    expect(see("write-input-file.err")).toMatch(/Permission denied|Read-only file system/);
    expect(see("remove-input")).toBe("refused\n");
    expect(see("middle-ref")).toMatch(/^\/nix\/store\/[a-z0-9]{32}-leaf\n$/);
    // And on the host, nothing changed.
    const middle = nixQuery(store, "--outputs", [nixQuery(store, "--references", [drvs.probe!]).find((r) => r.endsWith("-middle.drv"))!])[0]!;
    expect(existsSync(join(store.real(middle), "intruder"))).toBe(false);
    expect(existsSync(join(store.real(middle), "ref"))).toBe(true);
    const verify = Bun.spawnSync(["nix-store", ...store.storeArgs, "--verify", "--check-contents"], { env: store.env, stderr: "pipe" });
    expect(verify.exitCode).toBe(0);
    expect(verify.stderr.toString()).not.toContain("modified");
  });

  test("the sandbox root and the build directories are removed", () => {
    expect(leftovers(store.realStoreDir, /\.chroot/)).toEqual([]);
    expect(leftovers(store.tmp, /^nix-build-/)).toEqual([]);
  });
});
