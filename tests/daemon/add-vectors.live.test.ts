/**
 * bunix's daemon answers the captured add/transfer conversations of real
 * Nix 2.8 byte for byte: the vectors' client bytes are replayed against a
 * daemon whose logical store is /nix/store (rooted in a scratch directory),
 * in an order that gives each vector the paths it expects, and the answers
 * are compared with what real nix-daemon sent (registration times masked).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { WireReader } from "../../internal/wire/reader.ts";
import { bytesSource } from "../../internal/stream/byte-source.ts";
import { Stderr } from "../../internal/wire/worker-protocol.ts";
import { requireNix } from "../helpers/nix.ts";
import { scratchDir } from "../helpers/tmp.ts";
import { type TestDaemon, startDaemon } from "./support.ts";
import { type Vector, loadVector, masked, replay } from "./vectors.ts";

let daemon: TestDaemon;
let root: string;
const nobody = { uid: 65534, gid: 65534 };

beforeAll(async () => {
  requireNix();
  const dir = scratchDir("add-vectors");
  chmodSync(dir, 0o755); // the untrusted replays (as nobody) reach the socket through it
  root = join(dir, "root");
  mkdirSync(root);
  daemon = await startDaemon("bunix", { dir, args: ["--store", `local?root=${root}&store=/nix/store`] });
});

afterAll(async () => {
  await daemon?.stop();
});

function expectSameAnswer(vector: Vector, asUser?: { uid: number; gid: number }): void {
  const answer = replay(daemon.socket, vector, asUser);
  expect(masked(answer, vector).toString("hex")).toBe(masked(vector.s2c, vector).toString("hex"));
}

// Order matters: later vectors refer to paths that earlier ones add (hello.txt first).
const inOrder = [
  "nix-store-add",
  "raw-add-to-store-text",
  "raw-add-text-to-store",
  "raw-add-to-store-flat",
  "raw-add-to-store-old-recursive",
  "raw-add-to-store-old-flat",
  "old-daemon-1.24-add",
  "nix-store-add-fixed-flat",
  "raw-add-to-store-nar-1.34",
  "raw-add-to-store-nar-1.20",
  "raw-add-to-store-nar-1.22",
  "raw-import-paths",
  "raw-nar-from-path",
  "nix-copy-to-daemon",
  "old-daemon-1.21-copy-stderr-read",
  "raw-add-build-log",
];

describe("replayed Nix 2.8 conversations get the same answers", () => {
  for (const name of inOrder) {
    test(name, () => {
      expectSameAnswer(loadVector(name));
    });
  }

  test("raw-add-build-log wrote the log where nix-store -l looks", () => {
    const log = join(root, "nix/var/log/nix/drvs/i2/35g38fnx7c7igzc36yf1fzm938y1wl-trivial.drv");
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, "utf8")).toBe("log line one\nlog line two\n");
  });

  test("raw-export-path: the same export record, in STDERR_WRITE pieces of bunix's own size", async () => {
    const vector = loadVector("raw-export-path");
    const payloadOf = async (bytes: Uint8Array) => {
      const reader = new WireReader(bytesSource(bytes));
      const skip = vector.s2c.indexOf(0x16); // the first STDERR_WRITE code byte
      await reader.source.readExact(skip);
      const data: Uint8Array[] = [];
      for (;;) {
        const code = await reader.u64("code");
        if (code === Stderr.last) break;
        expect(code).toBe(Stderr.write);
        data.push(await reader.bytes("data"));
      }
      return { data: Buffer.concat(data).toString("hex"), result: await reader.u64("result") };
    };
    const answer = replay(daemon.socket, vector);
    expect(answer.subarray(0, 40).toString("hex")).toBe(Buffer.from(vector.s2c.subarray(0, 40)).toString("hex"));
    expect(await payloadOf(answer)).toEqual(await payloadOf(vector.s2c));
  });

  test("raw-untrusted-add-to-store-nar: refused after the frames, with the same message", () => {
    expectSameAnswer(loadVector("raw-untrusted-add-to-store-nar"), nobody);
  });

  test("raw-untrusted-add-signatures: refused", () => {
    expectSameAnswer(loadVector("raw-untrusted-add-signatures"), nobody);
  });

  test("raw-untrusted-add-build-log-desync: refused without 2.8's desync (the frames are drained first)", () => {
    const vector = loadVector("raw-untrusted-add-build-log-desync");
    const answer = replay(daemon.socket, vector, nobody);
    // 2.8 sends the refusal, then two "invalid operation 2" errors from reading frame bytes as an op.
    const refusalEnd = Buffer.from(vector.s2c).indexOf(Buffer.from("add logs")) + 8 + 6 + 16;
    expect(answer.toString("hex")).toBe(Buffer.from(vector.s2c.subarray(0, refusalEnd)).toString("hex"));
  });
});
