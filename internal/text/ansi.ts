/**
 * What of a builder's output is shown on a terminal: colour sequences (SGR,
 * `ESC [ ... m`) are kept, every other escape sequence (cursor movement,
 * screen clearing, OSC titles, ...) is removed, carriage returns keep only
 * what was written after them, and tabs become spaces.
 */
export function filterTerminalEscapes(line: string): string {
  let out = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "\x1b") {
      const next = line[i + 1];
      if (next === "[") {
        let j = i + 2;
        while (j < line.length && /[0-9;?<=>]/.test(line[j]!)) j++;
        if (line[j] === "m") out += line.slice(i, j + 1);
        i = j;
      } else if (next === "]") {
        // OSC: up to BEL or ESC \
        let j = i + 2;
        while (j < line.length && line[j] !== "\x07" && !(line[j] === "\x1b" && line[j + 1] === "\\")) j++;
        i = line[j] === "\x07" ? j : j + 1;
      } else {
        i++; // a two-character sequence
      }
    } else if (c === "\r") {
      out = "";
    } else if (c === "\t") {
      out += " ".repeat(8 - (out.length % 8));
    } else if (c >= " " || c === "\n") {
      out += c;
    }
  }
  return out;
}
