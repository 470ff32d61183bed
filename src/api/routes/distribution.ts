/**
 * Registry endpoints: pull (POST /images/create?fromImage=), push (POST /images/{name}/push),
 * login (POST /auth). Progress goes out as Docker's JSON-message stream; as in Docker, an
 * error before the first message is an HTTP error, one after it an errorDetail message.
 */
import { BerthError, invalid, messageOf } from '../../errors';
import type { Credentials } from '../../distribution/auth';
import { parsePlatform } from '../../distribution/manifest';
import type { ProgressMessage, ProgressSink } from '../../distribution/progress';
import type { Engine } from '../../engine/engine';
import { familiarName, parseReference, type Reference, ReferenceError, withDefaultTag } from '../../wire/reference';
import { type Ctx, readJson, sendJson } from '../context';
import type { Route } from '../server';

export function distributionRoutes(engine: Engine): Route[] {
  return [
    { method: 'POST', path: '/auth', handler: (ctx) => login(ctx, engine) },
    { method: 'POST', path: '/images/{name*}/push', handler: (ctx) => pushImage(ctx, engine) },
  ];
}

/** A JSON-message stream whose headers go out with the first message. */
export class ProgressStream {
  private started = false;

  constructor(private readonly ctx: Ctx) {}

  readonly sink: ProgressSink = (m: ProgressMessage) => {
    const res = this.ctx.res!;
    if (res.destroyed || res.writableEnded) return;
    if (!this.started) {
      this.started = true;
      res.writeHead(200, { 'Content-Type': 'application/json' });
    }
    res.write(JSON.stringify(m) + '\r\n');
  };

  /** Runs `work`; a failure after output has started becomes the stream's last message. */
  async run(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      if (!this.started) throw e;
      const message = messageOf(e);
      this.sink({ errorDetail: { message }, error: message });
    }
    if (!this.started) this.sink({});
    this.ctx.res!.end();
  }
}

/** X-Registry-Auth: base64url (or plain base64) JSON of Docker's AuthConfig. */
export function registryAuth(ctx: Ctx): Credentials {
  const h = ctx.req.headers['x-registry-auth'];
  const raw = Array.isArray(h) ? h[0] : h;
  if (!raw) return {};
  let doc: Record<string, string>;
  try {
    doc = JSON.parse(Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, string>;
  } catch {
    // Docker ignores an undecodable header and goes on anonymously.
    return {};
  }
  return credentialsOf(doc ?? {});
}

function credentialsOf(doc: Record<string, string | undefined>): Credentials {
  let { username, password } = doc;
  if (!username && doc.auth) {
    const plain = Buffer.from(doc.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) [username, password] = [plain.slice(0, i), plain.slice(i + 1)];
  }
  return {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(doc.identitytoken ? { identityToken: doc.identitytoken } : {}),
    ...(doc.registrytoken ? { registryToken: doc.registrytoken } : {}),
  };
}

/** POST /images/create?fromImage=…&tag=…&platform=… */
export async function pullImage(ctx: Ctx, engine: Engine, fromImage: string): Promise<void> {
  const tag = ctx.query.get('tag') ?? '';
  let ref: Reference;
  try {
    ref = parseReference(fromImage);
    if (tag) {
      const base = { domain: ref.domain, path: ref.path };
      ref = /^[a-z0-9]+:/.test(tag) ? { ...base, digest: parseReference(`x@${tag}`).digest } : parseReference(`${familiarName(base)}:${tag}`);
    }
  } catch (e) {
    if (e instanceof ReferenceError) throw invalid(e.message);
    throw e;
  }
  const platformText = ctx.query.get('platform');
  const platform = platformText ? parsePlatform(platformText) : undefined;
  const creds = registryAuth(ctx);
  const out = new ProgressStream(ctx);
  await out.run(async () => {
    if (ref.tag === undefined && ref.digest === undefined) {
      // No tag at all: every tag of the repository (docker pull --all-tags).
      const tags = await engine.puller.listTags(ref, creds);
      for (const t of tags) await engine.puller.pull({ ref: { ...ref, tag: t }, platform, creds, progress: out.sink });
      return;
    }
    await engine.puller.pull({ ref: withDefaultTag(ref), platform, creds, progress: out.sink });
  });
}

/** POST /images/{name}/push?tag=…: without a tag, every tag of the repository. */
async function pushImage(ctx: Ctx, engine: Engine): Promise<void> {
  const tag = ctx.query.get('tag') ?? '';
  let ref: Reference;
  try {
    ref = parseReference(ctx.params.name);
    if (tag) ref = parseReference(`${familiarName({ domain: ref.domain, path: ref.path })}:${tag}`);
  } catch (e) {
    if (e instanceof ReferenceError) throw invalid(e.message);
    throw e;
  }
  if (ref.digest) throw invalid('cannot push a digest reference');
  const creds = registryAuth(ctx);
  const out = new ProgressStream(ctx);
  await out.run(() => engine.pusher.push({ ref, creds, progress: out.sink }));
}

async function login(ctx: Ctx, engine: Engine): Promise<void> {
  const body = await readJson<Record<string, string>>(ctx);
  if (!body) throw invalid('missing auth configuration');
  const server = registryHost(body.serveraddress ?? '');
  await engine.registries.login(server, credentialsOf(body));
  sendJson(ctx, 200, { Status: 'Login Succeeded', IdentityToken: '' });
}

/** "https://index.docker.io/v1/", "docker.io", "localhost:5000/" → the registry's domain. */
export function registryHost(address: string): string {
  let a = address.trim().replace(/^[a-z]+:\/\//i, '');
  a = a.split('/')[0];
  if (a === '' || a === 'index.docker.io' || a === 'registry-1.docker.io' || a === 'docker.io') return 'docker.io';
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(a)) throw new BerthError('invalid', `invalid registry address "${address}"`);
  return a;
}
