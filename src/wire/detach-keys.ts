/**
 * Docker's detach keys: a comma-separated sequence of single characters and `ctrl-<x>` names
 * ("ctrl-p,ctrl-q", "a,ctrl-b"), and the scanner that looks for that sequence in a stream of
 * input, holding back a partial match until it is either completed (detach) or broken (the
 * held bytes go on, as typed).
 */

/** ctrl-p, ctrl-q */
export const DEFAULT_DETACH_KEYS: readonly number[] = [16, 17];

const CTRL_SPECIAL: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, '_': 31 };

export class DetachKeysError extends Error {}

/** Parses Docker's detach-key format; throws DetachKeysError with Docker's wording. */
export function parseDetachKeys(spec: string): number[] {
  return spec.split(',').map((key) => {
    if (key.length === 1) return key.charCodeAt(0);
    const m = /^ctrl-(.)$/i.exec(key);
    if (m) {
      const c = m[1].toLowerCase();
      if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 96;
      if (c in CTRL_SPECIAL) return CTRL_SPECIAL[c];
    }
    throw new DetachKeysError(`Unknown character: '${key}'`);
  });
}

export class DetachScanner {
  /** How many bytes of the sequence the input has matched so far (held back, not forwarded). */
  private matched = 0;

  constructor(private readonly keys: readonly number[]) {}

  /**
   * Feeds a chunk of input. Returns the bytes to forward now and whether the sequence was
   * completed; after a detach, nothing more should be fed.
   */
  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detached: false };
    const out: number[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) {
          this.matched = 0;
          return { forward: Buffer.from(out), detached: true };
        }
        continue;
      }
      // A broken partial match: what was held is ordinary input after all.
      for (let k = 0; k < this.matched; k++) out.push(this.keys[k]);
      this.matched = 0;
      if (b === this.keys[0]) this.matched = 1;
      else out.push(b);
    }
    return { forward: out.length === chunk.length && this.matched === 0 ? chunk : Buffer.from(out), detached: false };
  }
}
