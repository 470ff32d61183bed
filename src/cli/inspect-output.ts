/**
 * The output of the `inspect` commands of an object kind (network, volume): each object fetched
 * by name, then printed as docker prints it — a JSON array indented by four (compact with
 * `--format json`), or a Go template per object — and, after all output, every error; exit 1
 * if any. JSON is escaped as Go's encoder escapes it (<, >, & and the line separators).
 */
import { Template } from './template';
import { daemonErrorText, type Io } from './command';

export function goJson(v: unknown, indent?: number): string {
  return JSON.stringify(v, null, indent).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export async function inspectEach(io: Io, format: string, names: string[], fetch: (name: string) => Promise<unknown>): Promise<number> {
  let tmpl: Template | undefined;
  if (format !== '' && format !== 'json') {
    try {
      tmpl = Template.parse(format);
    } catch (e) {
      io.stderr.write(`template parsing error: ${(e as Error).message}\n`);
      return 64;
    }
  }
  const found: unknown[] = [];
  const errors: string[] = [];
  let text = '';
  for (const name of names) {
    let obj: unknown;
    try {
      obj = await fetch(name);
    } catch (e) {
      errors.push(daemonErrorText(e));
      continue;
    }
    if (!tmpl) {
      found.push(obj);
      continue;
    }
    try {
      text += `${tmpl.execute(obj)}\n`;
    } catch (e) {
      errors.push(`template parsing error: ${(e as Error).message}`);
    }
  }
  // docker prints what it could, then every error; a template with no output still prints a newline.
  if (tmpl) io.stdout.write(text || '\n');
  else if (found.length === 0) io.stdout.write('[]\n');
  else io.stdout.write(`${goJson(found, format === 'json' ? undefined : 4)}\n`);
  for (const e of errors) io.stderr.write(`${e}\n`);
  return errors.length ? 1 : 0;
}
