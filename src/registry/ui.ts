/**
 * The registry's web page: `/` lists the repositories with their tags, digests and sizes;
 * `/ui/<name>` shows one repository's manifests and their layers. Rendered on the server as
 * plain HTML (no script), from the same storage the API serves, and only what the visitor may
 * pull. Every name and value is escaped: repository names are safe by grammar, annotations and
 * media types are whatever a client pushed.
 */
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Manifest, parseManifest } from '../distribution/manifest';
import type { Authorizer } from './access';
import { checkName, type Sha256 } from './names';
import type { RegistryStorage, StoredManifest } from './storage';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function human(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

const short = (d: string) => d.slice(0, 'sha256:'.length + 12);

interface Summary {
  manifest: StoredManifest;
  parsed?: Manifest;
  /** The manifest, its config and its layers (an index: its own bytes and its children's). */
  size: number;
}

function summarize(store: RegistryStorage, repo: string, m: StoredManifest, depth = 0): Summary {
  let parsed: Manifest | undefined;
  try {
    parsed = parseManifest(fs.readFileSync(store.blobPath(m.digest)), m.mediaType);
  } catch {
    return { manifest: m, size: m.size };
  }
  let size = m.size;
  if (parsed.kind === 'image') size += parsed.config.size + parsed.layers.reduce((n, l) => n + l.size, 0);
  else if (depth === 0) {
    for (const child of parsed.manifests) {
      const c = store.manifest(repo, { digest: child.digest as Sha256 });
      if (c) size += summarize(store, repo, c, 1).size;
    }
  }
  return { manifest: m, parsed, size };
}

const PAGE_STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330;background:#f6f7f9}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.4rem .7rem;border-bottom:1px solid #e1e4ea;font-size:.9rem}th{background:#eef1f5}
code{font-family:ui-monospace,monospace;font-size:.85rem}a{color:#1f5fbf;text-decoration:none}.muted{color:#6b7385}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${PAGE_STYLE}</style></head><body>${body}</body></html>`;
}

async function index(store: RegistryStorage, auth: Authorizer, req: IncomingMessage): Promise<string> {
  const rows: string[] = [];
  let repos = 0;
  for (const repo of store.repositories()) {
    if (!(await auth.allows(req, { repo, actions: ['pull'] }))) continue;
    repos++;
    const tags = store.tags(repo) ?? [];
    if (tags.length === 0) rows.push(`<tr><td><a href="/ui/${esc(repo)}">${esc(repo)}</a></td><td class="muted">no tags</td><td></td><td></td></tr>`);
    for (const tag of tags) {
      const m = store.manifest(repo, { tag });
      if (!m) continue;
      const s = summarize(store, repo, m);
      rows.push(`<tr><td><a href="/ui/${esc(repo)}">${esc(repo)}</a></td><td>${esc(tag)}</td><td><code title="${esc(m.digest)}">${esc(short(m.digest))}</code></td><td>${human(s.size)}</td></tr>`);
    }
  }
  const table = rows.length ? `<table><thead><tr><th>Repository</th><th>Tag</th><th>Digest</th><th>Size</th></tr></thead><tbody>${rows.join('')}</tbody></table>` : '<p class="muted">No repositories yet.</p>';
  return page('berth registry', `<h1>berth registry</h1><p class="muted">${repos} ${repos === 1 ? 'repository' : 'repositories'}</p>${table}`);
}

function repository(store: RegistryStorage, repo: string): string {
  const tagsOf = new Map<string, string[]>();
  for (const tag of store.tags(repo) ?? []) {
    const m = store.manifest(repo, { tag });
    if (m) tagsOf.set(m.digest, [...(tagsOf.get(m.digest) ?? []), tag]);
  }
  const sections = store.revisions(repo).flatMap((digest) => {
    const m = store.manifest(repo, { digest });
    if (!m) return [];
    const s = summarize(store, repo, m);
    const tags = tagsOf.get(digest)?.map(esc).join(', ') || '<span class="muted">untagged</span>';
    let detail = '';
    if (s.parsed?.kind === 'image') {
      const layers = s.parsed.layers.map((l, i) => `<tr><td>${i + 1}</td><td><code>${esc(l.digest)}</code></td><td>${esc(l.mediaType)}</td><td>${human(l.size)}</td></tr>`).join('');
      detail = `<p>Config <code>${esc(s.parsed.config.digest)}</code> (${human(s.parsed.config.size)})</p><table><thead><tr><th>#</th><th>Layer</th><th>Media type</th><th>Size</th></tr></thead><tbody>${layers}</tbody></table>`;
    } else if (s.parsed?.kind === 'index') {
      const children = s.parsed.manifests
        .map((c) => `<tr><td><code>${esc(c.digest)}</code></td><td>${esc(c.platform ? `${c.platform.os}/${c.platform.architecture}${c.platform.variant ? `/${c.platform.variant}` : ''}` : '')}</td><td>${human(c.size)}</td></tr>`)
        .join('');
      detail = `<table><thead><tr><th>Manifest</th><th>Platform</th><th>Size</th></tr></thead><tbody>${children}</tbody></table>`;
    }
    return [`<h2><code>${esc(digest)}</code></h2><p>Tags: ${tags} · ${esc(m.mediaType)} · ${human(s.size)}</p>${detail}`];
  });
  return page(`${repo} · berth registry`, `<p><a href="/">← all repositories</a></p><h1>${esc(repo)}</h1>${sections.join('') || '<p class="muted">No manifests.</p>'}`);
}

/** The UI's pages; false for any other path. */
export function uiPages(store: RegistryStorage, auth: Authorizer) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let html: string | undefined;
    if (url.pathname === '/') html = await index(store, auth, req);
    else if (url.pathname.startsWith('/ui/')) {
      let repo: string;
      try {
        repo = checkName(decodeURIComponent(url.pathname.slice('/ui/'.length)));
      } catch {
        return false;
      }
      if (store.tags(repo) === undefined || !(await auth.allows(req, { repo, actions: ['pull'] }))) return false;
      html = repository(store, repo);
    }
    if (html === undefined) return false;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html), 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'" });
    res.end(req.method === 'HEAD' ? undefined : html);
    return true;
  };
}
