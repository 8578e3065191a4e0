/**
 * Command lines in the style of Nix's classic tools (nix-store, nix-hash):
 * operations and flags mixed with arguments, short flags grouped (`-qR` is
 * `-q -R`), `--option NAME VALUE`, and `--` ending the flags.
 */
import { UsageError } from "../../internal/errors.ts";

export class NixArgs {
  private readonly words: string[];
  private at = 0;
  private flagsDone = false;

  constructor(
    argv: readonly string[],
    readonly program: string,
  ) {
    this.words = [];
    for (const word of argv) {
      if (word.length > 2 && word[0] === "-" && word[1] !== "-" && /[A-Za-z]/.test(word[1]!)) {
        for (const letter of word.slice(1)) this.words.push(`-${letter}`);
      } else this.words.push(word);
    }
  }

  /** The next word, and whether it is a flag. */
  next(): { word: string; flag: boolean } | undefined {
    if (this.at >= this.words.length) return undefined;
    const word = this.words[this.at++]!;
    if (!this.flagsDone && word === "--") {
      this.flagsDone = true;
      return this.next();
    }
    return { word, flag: !this.flagsDone && word.startsWith("-") && word !== "-" };
  }

  /** The value following `flag`. */
  value(flag: string): string {
    if (this.at >= this.words.length) throw new UsageError(`flag '${flag}' requires an argument`);
    return this.words[this.at++]!;
  }

  unrecognised(flag: string): never {
    throw new UsageError(`unrecognised flag '${flag}'`);
  }
}

export function parseBooleanSetting(name: string, value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new UsageError(`option '${name}' has invalid value '${value}': expected true or false`);
}
