/**
 * A one-line progress display on stderr for long operations, shown only on
 * a terminal (never in pipes, logs or --json runs) and redrawn at most ten
 * times a second.
 */
const REDRAW_MS = 100;

export class Progress {
  private last = 0;
  private shown = false;
  private readonly enabled: boolean;

  constructor(enabled = process.stderr.isTTY === true) {
    this.enabled = enabled;
  }

  update(text: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < REDRAW_MS) return;
    this.last = now;
    const width = process.stderr.columns ?? 80;
    process.stderr.write(`\r\x1b[K${text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text}`);
    this.shown = true;
  }

  /** Clears the line (call before printing results or errors). */
  done(): void {
    if (this.shown) process.stderr.write("\r\x1b[K");
    this.shown = false;
  }
}
