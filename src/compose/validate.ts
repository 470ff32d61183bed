/**
 * Checks one parsed file against schema.ts with ajv and turns ajv's errors into
 * `file:line: key.path: message` lines, using the locations the YAML walk recorded.
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { invalid } from '../errors';
import { Key, child, isMapping, locOf } from './meta';
import { composeFileSchema } from './schema';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
    compiled = ajv.compile(composeFileSchema);
  }
  return compiled;
}

/** At most this many problems are listed; the rest are counted. */
const MAX_LISTED = 20;

export function validateFile(tree: Record<string, unknown>): void {
  const validate = validator();
  if (validate(tree)) return;
  const seen = new Set<string>();
  const problems: { line: number; text: string }[] = [];
  for (const e of validate.errors ?? []) {
    const p = describe(tree, e);
    if (seen.has(p.text)) continue;
    seen.add(p.text);
    problems.push(p);
  }
  problems.sort((a, b) => a.line - b.line);
  const listed = problems.slice(0, MAX_LISTED).map((p) => p.text);
  if (problems.length > MAX_LISTED) listed.push(`… and ${problems.length - MAX_LISTED} more`);
  throw invalid(listed.join('\n'));
}

/** Follows a JSON pointer through the tree: the parent container, the last key and the key path. */
function walk(tree: unknown, pointer: string): { parent: unknown; key?: Key; value: unknown; path: string } {
  const segs = pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let parent: unknown = undefined;
  let key: Key | undefined;
  let value: unknown = tree;
  let path = '';
  for (const seg of segs) {
    parent = value;
    key = Array.isArray(value) ? Number(seg) : seg;
    value = Array.isArray(value) || isMapping(value) ? (value as Record<Key, unknown>)[key] : undefined;
    path = child(path, key);
  }
  return { parent, key, value, path };
}

function describe(tree: unknown, e: ErrorObject): { line: number; text: string } {
  const at = walk(tree, e.instancePath);
  let loc = at.parent === undefined ? locOf(at.value) : locOf(at.parent, at.key);
  let path = at.path;
  let message: string;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      loc = locOf(at.value, extra) ?? loc;
      path = child(path, extra);
      message = 'unknown key (not allowed here)';
      break;
    }
    case 'type': {
      const types = ([params.type].flat() as string[]).flatMap((t) => t.split(','));
      message = `must be ${[...new Set(types.map((t) => (t === 'integer' ? 'number' : t)))].join(' or ')}`;
      break;
    }
    case 'required':
      loc = locOf(at.value) ?? loc;
      message = `missing required key "${String(params.missingProperty)}"`;
      break;
    case 'enum':
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    default:
      message = e.message ?? `fails ${e.keyword}`;
  }
  const where = loc ? `${loc.file}:${loc.line}: ` : '';
  return { line: loc?.line ?? 0, text: `${where}${path || '(top level)'}: ${message}` };
}
