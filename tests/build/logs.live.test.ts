/**
 * Build logs: every bunix build writes its raw output under the log dir;
 * `bunix store log`, the `nix-store -l` alias and REAL `nix-store -l` print
 * the same bytes, which are those real Nix logs for the same derivation
 * (bunix also reads Nix's bzip2-compressed logs). A failing build shows the
 * last `log-lines` lines in its error with escape sequences other than
 * colours removed; the log itself stays raw.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { bunixBinary, requireNix, runOk } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { BUILD_TESTS, buildEnv, bunix, bunixOk, instantiate, nixStore } from "./live.ts";

const ESCAPES = "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2Jcleared \x1b[1;32mbold green\x1b[0m";
const SHOWN = "\x1b[31mred\x1b[0m  cleared \x1b[1;32mbold green\x1b[0m";
const LINES = Array.from({ length: 15 }, (_, i) => `line ${i + 1}`);

let root: string;
let nixRoot: string;
let drvs: Map<string, string>;
let chattyOut: string;
let failure: { code: number; stderr: string };

beforeAll(() => {
  requireNix();
  bunixBinary();
  const dir = scratchDir("build-logs");
  root = join(dir, "bunix");
  nixRoot = join(dir, "nix");
  drvs = instantiate(root, "cases.nix", ["chatty", "chattyFailure", "plain"]);
  chattyOut = bunixOk(["build", "--store", root, "--no-out-link", drvs.get("chatty")!]).trim();
  failure = bunix(["build", "--store", root, "--no-out-link", drvs.get("chattyFailure")!]);
  runOk(["nix-build", "--store", nixRoot, "--no-out-link", join(BUILD_TESTS, "cases.nix"), "-A", "chatty"], { env: buildEnv() });
});

describe("reading logs", () => {
  test("bunix store log, the nix-store -l alias and real nix-store -l print the same raw log", () => {
    const drv = drvs.get("chatty")!;
    const expected = `${LINES.join("\n")}\n${ESCAPES}\nto stderr\n`;
    const ours = bunixOk(["store", "log", "--store", root, drv]);
    expect(ours).toBe(expected);
    expect(bunixOk(["nix-store", "--store", root, "-l", drv])).toBe(expected);
    const real = nixStore(root, ["-l", drv]);
    expect(real.code).toBe(0);
    expect(real.stdout.toString()).toBe(expected);
    // Also by output path (its deriver's log).
    expect(bunixOk(["store", "log", "--store", root, chattyOut])).toBe(expected);
  });

  test("the log is what real Nix logs for the same derivation, and bunix reads Nix's compressed logs", () => {
    const drv = drvs.get("chatty")!;
    const nixLog = nixStore(nixRoot, ["-l", drv]).stdout.toString();
    expect(nixLog).toBe(bunixOk(["store", "log", "--store", root, drv]));
    expect(existsSync(join(nixRoot, "nix/var/log/nix/drvs", drv.slice(11, 13), `${drv.slice(13)}.bz2`))).toBe(true);
    expect(bunixOk(["store", "log", "--store", nixRoot, drv])).toBe(nixLog);
    expect(existsSync(join(root, "nix/var/log/nix/drvs", drv.slice(11, 13), drv.slice(13)))).toBe(true);
  });

  test("a derivation that was never built has no log, as in Nix", () => {
    const drv = drvs.get("plain")!;
    const ours = bunix(["store", "log", "--store", root, drv]);
    const nix = nixStore(root, ["-l", drv]);
    expect(ours.code).toBe(1);
    expect(nix.code).toBe(1);
    expect(ours.stderr).toBe(nix.stderr);
  });

  test("keep-build-log = false writes none", () => {
    const drv = instantiate(root, "cases.nix", ["plain"], ["--argstr", "nonce", "no-log"]).get("plain")!;
    bunixOk(["build", "--store", root, "--no-out-link", "--option", "keep-build-log", "false", drv]);
    expect(bunix(["store", "log", "--store", root, drv]).code).toBe(1);
  });
});

describe("a failing build", () => {
  test("shows the last log-lines lines, colours kept, other escape sequences removed", () => {
    const drv = drvs.get("chattyFailure")!;
    expect(failure.code).toBe(100);
    const tail = [...LINES.slice(6), SHOWN].map((l) => `       > ${l}\n`).join("");
    expect(failure.stderr).toContain(`error: builder for '${drv}' failed with exit code 1;\n       last 10 log lines:\n${tail}`);
    expect(failure.stderr).not.toContain("title");
    expect(failure.stderr).not.toContain("\x1b[2J");
  });

  test("log-lines sets how many", () => {
    const drv = drvs.get("chattyFailure")!;
    const result = bunix(["build", "--store", root, "--no-out-link", "--option", "log-lines", "3", drv]);
    expect(result.stderr).toContain(`last 3 log lines:\n       > line 14\n       > line 15\n       > ${SHOWN}\n`);
  });

  test("its log is kept raw, readable by real Nix", () => {
    const log = nixStore(root, ["-l", drvs.get("chattyFailure")!]).stdout.toString();
    expect(log).toBe(`${LINES.join("\n")}\n${ESCAPES}\n`);
  });

  test("-L prints every line as it comes, prefixed with the name, filtered", () => {
    const result = bunix(["build", "--store", root, "--no-out-link", "-L", drvs.get("chattyFailure")!]);
    expect(result.stderr).toContain("chatty-failure> line 1\n");
    expect(result.stderr).toContain(`chatty-failure> ${SHOWN}\n`);
    // The log was shown already: the error does not repeat it.
    expect(result.stderr).not.toContain("log lines:");
  });
});
