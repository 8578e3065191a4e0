/**
 * Build logs (store-layout.md 8): every build writes its raw output to
 * `<logDir>/drvs/<first 2 characters of the drv base name>/<the rest>`.
 * bunix writes them uncompressed; reading also finds logs Nix wrote with
 * bzip2 (through the system's bzip2, when there is one).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BunixError } from "../errors.ts";
import type { StorePath } from "../store-path/store-path.ts";

export function logPath(logDir: string, drvPath: StorePath): string {
  const base = drvPath.baseName;
  return join(logDir, "drvs", base.slice(0, 2), base.slice(2));
}

/** Collects a build's output: into the log file, and the last lines for messages. */
export class BuildLog {
  private readonly fd: number | undefined;
  private partial = "";
  private readonly tail: string[] = [];
  bytes = 0;

  constructor(
    file: string | undefined,
    private readonly keepLines: number,
    private readonly onLine?: (line: string) => void,
  ) {
    if (file !== undefined) {
      mkdirSync(join(file, ".."), { recursive: true });
      this.fd = openSync(file, "w", 0o644);
    }
  }

  write(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (this.fd !== undefined) writeSync(this.fd, chunk);
    const text = this.partial + Buffer.from(chunk).toString("utf8");
    const lines = text.split("\n");
    this.partial = lines.pop()!;
    for (const line of lines) this.addLine(line);
  }

  private addLine(line: string): void {
    this.tail.push(line);
    if (this.tail.length > this.keepLines) this.tail.shift();
    this.onLine?.(line);
  }

  /** The last lines written (including an unfinished one). */
  lastLines(): string[] {
    return this.partial === "" ? [...this.tail] : [...this.tail, this.partial].slice(-this.keepLines);
  }

  close(): void {
    if (this.partial !== "") this.addLine(this.partial);
    this.partial = "";
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

/** The log of a derivation, as `nix-store -l` finds it; undefined when there is none. */
export function readBuildLog(logDir: string, drvPath: StorePath): Uint8Array | undefined {
  const base = drvPath.baseName;
  const candidates = [join(logDir, "drvs", base.slice(0, 2), base.slice(2)), join(logDir, "drvs", base)];
  for (const plain of candidates) {
    if (existsSync(plain)) return readFileSync(plain);
    if (existsSync(`${plain}.bz2`)) {
      const result = Bun.spawnSync(["bzip2", "-dc", `${plain}.bz2`], { stdout: "pipe", stderr: "pipe" });
      if (result.exitCode !== 0) throw new BunixError(`cannot decompress the build log '${plain}.bz2': ${result.stderr.toString().trim() || "bzip2 is not installed"}`);
      return new Uint8Array(result.stdout);
    }
  }
  return undefined;
}
