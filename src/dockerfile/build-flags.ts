/**
 * Instruction flags (`COPY --from=x --link`), checked the way BuildKit's BFlags checks them: each
 * instruction declares what it takes; unknown, repeated and value-less flags are errors.
 */
import { withSuggestion } from './suggest';

type FlagKind = 'bool' | 'string' | 'strings';

export class BuildFlags {
  private readonly kinds = new Map<string, FlagKind>();
  private readonly values = new Map<string, string[]>();

  constructor(private readonly words: readonly string[]) {}

  bool(name: string): this {
    this.kinds.set(name, 'bool');
    return this;
  }
  string(name: string): this {
    this.kinds.set(name, 'string');
    return this;
  }
  strings(name: string): this {
    this.kinds.set(name, 'strings');
    return this;
  }

  /** Throws the reason of the first bad flag. */
  parse(): this {
    for (const word of this.words) {
      if (word === '--') break;
      if (!word.startsWith('--')) throw new Error(`arg should start with -- : ${word}`);
      const eq = word.indexOf('=');
      const flagName = eq < 0 ? word : word.slice(0, eq);
      const value = eq < 0 ? undefined : word.slice(eq + 1);
      const name = flagName.slice(2);
      const kind = this.kinds.get(name);
      if (!kind) throw new Error(withSuggestion(`unknown flag: ${flagName}`, name, [...this.kinds.keys()], true));
      if (this.values.has(name) && kind !== 'strings') throw new Error(`duplicate flag specified: ${flagName}`);
      const list = this.values.get(name) ?? [];
      this.values.set(name, list);
      if (kind === 'bool') {
        if (value === '') throw new Error(`missing a value on flag: ${flagName}`);
        const v = (value ?? 'true').toLowerCase();
        if (v !== 'true' && v !== 'false') throw new Error(`expecting boolean value for flag ${flagName}, not: ${value}`);
        list.splice(0, list.length, v);
      } else {
        if (value === undefined) throw new Error(`missing a value on flag: ${flagName}`);
        list.push(value);
      }
    }
    return this;
  }

  used(name: string): boolean {
    return this.values.has(name);
  }
  /** The last value of a string flag, undefined when not given. */
  get(name: string): string | undefined {
    return this.values.get(name)?.at(-1);
  }
  all(name: string): string[] {
    return this.values.get(name) ?? [];
  }
  isTrue(name: string): boolean {
    return this.get(name) === 'true';
  }
}
