/**
 * One worker of the store stress test: for `seconds`, repeatedly runs the
 * bunix binary against a shared store (add files and trees, add text that
 * refers to an earlier path, query, delete its own unreferenced paths) and
 * appends what it did to a JSON-lines journal. Any failed command is a
 * failure of the test: it is journalled with its stderr and the worker
 * exits 1.
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [bunix, store, work, secondsText, idText] = process.argv.slice(2) as [string, string, string, string, string];
const deadline = Date.now() + Number(secondsText) * 1000;
const id = Number(idText);
const journal = join(work, `journal-${id}.jsonl`);
const env = { ...process.env } as Record<string, string>;

function run(argv: string[]): string {
  const result = Bun.spawnSync([bunix, ...argv, "--store", store], { env, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) {
    appendFileSync(journal, `${JSON.stringify({ op: "error", argv, code: result.exitCode, stderr: result.stderr.toString() })}\n`);
    process.exit(1);
  }
  return result.stdout.toString().trim();
}

function note(entry: Record<string, unknown>): void {
  appendFileSync(journal, `${JSON.stringify(entry)}\n`);
}

const mine: string[] = [];
for (let n = 0; Date.now() < deadline; n++) {
  const dir = join(work, `w${id}-${n}`);
  const action = n % 6;
  if (action === 0 || action === 1) {
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "sub", "file"), `worker ${id} item ${n}\n`.repeat(1 + (n % 50)));
    writeFileSync(join(dir, "top"), `${Math.random()}`);
    const path = run(["store", "add", dir]);
    mine.push(path);
    note({ op: "add", path });
  } else if (action === 2) {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "flat");
    writeFileSync(file, `flat ${id} ${n} ${Math.random()}`);
    const path = run(["store", "add", "--flat", "--hash-algo", n % 4 === 0 ? "sha1" : "sha256", file]);
    note({ op: "add", path });
  } else if (action === 3 && mine.length > 0) {
    mkdirSync(dir, { recursive: true });
    const target = mine[mine.length - 1]!;
    writeFileSync(join(dir, "text"), `worker ${id} refers to ${target} (${n})\n`);
    const path = run(["store", "add-text", `ref-${id}-${n}`, join(dir, "text")]);
    const refs = (JSON.parse(run(["store", "path-info", "--json", path])) as Array<{ references: string[] }>)[0]!.references;
    note({ op: "add-text", path, target, refs });
    mine.pop(); // now referenced: never deleted
  } else if (action === 4 && mine.length > 0) {
    const path = mine.shift()!;
    run(["store", "delete", path]);
    note({ op: "delete", path });
  } else {
    const path = mine[mine.length - 1];
    if (path) note({ op: "query", path, info: JSON.parse(run(["store", "path-info", "--json", path])) });
  }
}
