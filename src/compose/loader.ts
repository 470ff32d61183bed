/**
 * The Compose project loader: finds the files, builds the interpolation variables (.env or
 * --env-file under the environment), picks the project name, loads the merged document
 * (pipeline.ts), applies profiles and normalizes into the model (model.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalid } from '../errors';
import { parseEnvFile } from './env-file';
import { interpolate } from './interpolate';
import { isMapping, locOf } from './meta';
import type { Project } from './model';
import { normalizeProject } from './normalize-project';
import { NormContext, Obj, defaultHome } from './normalize-util';
import { PipelineContext, displayName, loadDocument } from './pipeline';
import { activeServices, profilesFromEnv } from './profiles';

export interface LoadOptions {
  /** -f files, in order; relative to the current directory. Empty or absent: the default lookup. */
  files?: string[];
  projectName?: string;
  /** --profile; empty or absent: COMPOSE_PROFILES. */
  profiles?: string[];
  /** --env-file files (later ones win); absent: the project directory's .env. */
  envFiles?: string[];
  /** --project-directory. */
  workingDir?: string;
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Warnings (unset variables, obsolete `version`); defaults to stderr. */
  warn?: (message: string) => void;
}

export const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
export const OVERRIDE_FILES = ['compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];

export function loadProject(opts: LoadOptions = {}): Project {
  const cwd = process.cwd();
  const osEnv = definedOnly(opts.env ?? process.env);
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`WARN: ${m}\n`));
  const explicitDir = opts.workingDir ? path.resolve(cwd, opts.workingDir) : undefined;

  let files = (opts.files ?? []).map((f) => path.resolve(cwd, f));
  let workingDir = explicitDir ?? (files.length > 0 ? path.dirname(files[0]) : cwd);
  let env = { ...readEnvFiles(opts.envFiles, workingDir, osEnv, cwd), ...osEnv };
  if (files.length === 0) {
    files = fromComposeFileVariable(env, workingDir) ?? findDefaultFiles(workingDir, explicitDir === undefined);
    const dir = explicitDir ?? path.dirname(files[0]);
    if (dir !== workingDir) {
      workingDir = dir;
      env = { ...readEnvFiles(opts.envFiles, workingDir, osEnv, cwd), ...osEnv };
    }
  }

  const ctx: PipelineContext = { env, displayDir: workingDir, warn, chain: files, cache: new Map(), warned: new Set() };
  let projectName = '';
  const doc = loadDocument(
    {
      files,
      workingDir,
      beforeInterpolation: (trees) => {
        projectName = chooseProjectName(opts.projectName, env, trees, workingDir);
        // The spec exposes the project name (as chosen, -p included) to interpolation.
        env.COMPOSE_PROJECT_NAME = projectName;
      },
    },
    ctx,
  );

  const services = isMapping(doc.services) ? doc.services : {};
  const profiles = opts.profiles && opts.profiles.length > 0 ? opts.profiles : profilesFromEnv(env.COMPOSE_PROFILES);
  const nctx: NormContext = {
    projectName,
    workingDir,
    lookup: (n) => (Object.prototype.hasOwnProperty.call(env, n) ? env[n] : undefined),
    home: defaultHome(env),
    displayDir: workingDir,
    networks: isMapping(doc.networks) ? doc.networks : {},
    volumes: isMapping(doc.volumes) ? doc.volumes : {},
    secrets: isMapping(doc.secrets) ? doc.secrets : {},
    configs: isMapping(doc.configs) ? doc.configs : {},
    active: new Set(activeServices(services, profiles)),
  };
  return normalizeProject(doc, nctx, files);
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/** --env-file files (relative to the current directory; each must exist), else <dir>/.env if present. */
function readEnvFiles(envFiles: string[] | undefined, dir: string, osEnv: Record<string, string>, cwd: string): Record<string, string> {
  const explicit = envFiles !== undefined && envFiles.length > 0;
  const list = explicit ? envFiles.map((f) => path.resolve(cwd, f)) : [path.join(dir, '.env')];
  const vars: Record<string, string> = {};
  for (const file of list) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!explicit && (code === 'ENOENT' || code === 'EISDIR')) continue;
      throw invalid(`env file ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    // Values may refer to the environment and to earlier files; the environment wins later anyway.
    const lookup = (n: string) => (n in osEnv ? osEnv[n] : vars[n]);
    Object.assign(vars, parseEnvFile(text, { lookup, name: displayName(file, dir) }));
  }
  return vars;
}

/** COMPOSE_FILE: paths separated by COMPOSE_PATH_SEPARATOR (":" by default), relative to the project directory. */
function fromComposeFileVariable(env: Record<string, string>, dir: string): string[] | undefined {
  const v = env.COMPOSE_FILE;
  if (!v) return undefined;
  const files = v.split(env.COMPOSE_PATH_SEPARATOR || ':').filter((f) => f !== '');
  return files.length > 0 ? files.map((f) => path.resolve(dir, f)) : undefined;
}

/** The first default file in `dir` (or, when `walkUp`, the nearest parent that has one), plus its override file. */
export function findDefaultFiles(dir: string, walkUp: boolean): string[] {
  for (let d = dir, i = 0; i < 64; i++) {
    const main = DEFAULT_FILES.map((f) => path.join(d, f)).find(isFile);
    if (main) {
      const override = OVERRIDE_FILES.map((f) => path.join(d, f)).find(isFile);
      return override ? [main, override] : [main];
    }
    const parent = path.dirname(d);
    if (!walkUp || parent === d) break;
    d = parent;
  }
  throw invalid(`no configuration file provided: not found (looked for ${DEFAULT_FILES.join(', ')} in ${dir})`);
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** -p, then COMPOSE_PROJECT_NAME, then the last file's `name:`, then the directory's name. */
function chooseProjectName(given: string | undefined, env: Record<string, string>, trees: Obj[], dir: string): string {
  if (given) return checkedName(normalizeProjectName(given), given, '-p');
  if (env.COMPOSE_PROJECT_NAME) return checkedName(normalizeProjectName(env.COMPOSE_PROJECT_NAME), env.COMPOSE_PROJECT_NAME, 'COMPOSE_PROJECT_NAME');
  for (let i = trees.length - 1; i >= 0; i--) {
    const name = trees[i].name;
    if (typeof name !== 'string') continue;
    let value: string;
    try {
      value = interpolate(name, (n) => env[n]);
    } catch (e) {
      const loc = locOf(trees[i], 'name');
      throw invalid(`${loc ? `${loc.file}:${loc.line}: ` : ''}name: ${(e as Error).message}`);
    }
    if (value) return checkedName(normalizeProjectName(value), value, 'name');
  }
  return checkedName(normalizeProjectName(path.basename(dir)), path.basename(dir), 'the project directory');
}

/** Lower-case, only [a-z0-9_-], starting with a letter or digit. */
export function normalizeProjectName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[^a-z0-9]+/, '');
}

function checkedName(name: string, from: string, source: string): string {
  if (name === '') throw invalid(`invalid project name ${JSON.stringify(from)} (from ${source}): it must contain a lower-case letter or digit`);
  return name;
}
