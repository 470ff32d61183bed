/**
 * A real registry for e2e tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1,
 * with no auth, htpasswd (Basic) auth, or token auth backed by a small issuer in this process.
 * Each registry owns one temp dir and one child process; stop() ends that process by its PID,
 * closes the issuer and deletes the dir, and touches nothing else.
 *
 * The temp dir:
 *   config.yml      the registry's configuration (written once per port tried)
 *   storage/        the filesystem driver's root: pushed blobs and manifests
 *   htpasswd        basic mode: user:bcrypt-hash lines
 *   key.pem         token mode: the issuer's RSA signing key
 *   cert.pem        token mode: its self-signed certificate, the registry's rootcertbundle
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import { join } from 'node:path';
import { freePort } from './harness';

export interface RegistryOptions {
  auth?: 'none' | 'basic' | 'token';
  /** basic and token modes: username → password. */
  users?: Record<string, string>;
  /** token mode: requests without credentials are granted `pull` (and nothing else). */
  anonymousPull?: boolean;
}

/** One request to the token issuer: the scopes asked, who asked (none: anonymous), what was granted. */
export interface TokenRequest {
  scope: string[];
  user?: string;
  granted: string[];
}

/** The token mode's `service` (the JWT's aud) and `issuer` (its iss), as the registry expects them. */
export const TOKEN_SERVICE = 'berth-test-registry';
export const TOKEN_ISSUER = 'berth-test-issuer';

const REGISTRY_BIN = '/usr/bin/docker-registry';
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_CAP = 256 << 10;

let signingPair: Promise<{ key: string; cert: string }> | undefined;

export class TestRegistry {
  /** Token mode: every request the issuer answered, oldest first. */
  tokenRequests: TokenRequest[] = [];
  private port = 0;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private logText = '';
  private issuer: http.Server | undefined;
  private signer: { key: string; certDer: string } | undefined;

  private constructor(readonly dir: string, private readonly opts: Required<RegistryOptions>) {}

  static async start(opts: RegistryOptions = {}): Promise<TestRegistry> {
    const full: Required<RegistryOptions> = { auth: opts.auth ?? 'none', users: opts.users ?? {}, anonymousPull: opts.anonymousPull ?? false };
    const r = new TestRegistry(fs.mkdtempSync(join(os.tmpdir(), 'berth-registry-')), full);
    try {
      await r.launch();
      return r;
    } catch (e) {
      await r.stop();
      throw e;
    }
  }

  /** "127.0.0.1:PORT", the name images on this registry start with. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The registry's stdout and stderr (capped), for failure messages. */
  log(): string {
    return this.logText;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Ends the registry (SIGTERM, then SIGKILL after 5 s), closes the issuer, removes the dir. */
  async stop(): Promise<void> {
    try {
      const proc = this.proc;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        if (!(await within(this.exited, STOP_TIMEOUT_MS))) {
          proc.kill('SIGKILL');
          await within(this.exited, STOP_TIMEOUT_MS);
        }
      }
      if (this.issuer) {
        const server = this.issuer;
        this.issuer = undefined;
        server.closeAllConnections();
        await within(new Promise<void>((resolve) => server.close(() => resolve())), STOP_TIMEOUT_MS);
      }
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private async launch(): Promise<void> {
    fs.mkdirSync(join(this.dir, 'storage'));
    let auth = '';
    if (this.opts.auth === 'basic') {
      const lines = await Promise.all(Object.entries(this.opts.users).map(async ([u, p]) => `${u}:${await bcrypt(p)}\n`));
      fs.writeFileSync(join(this.dir, 'htpasswd'), lines.join(''));
      auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(this.dir, 'htpasswd')}\n`;
    } else if (this.opts.auth === 'token') {
      await this.makeSigningKey();
      const port = await this.startIssuer();
      auth = `auth:\n  token:\n    realm: http://127.0.0.1:${port}/token\n    service: ${TOKEN_SERVICE}\n`
        + `    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${join(this.dir, 'cert.pem')}\n`;
    }
    // A port picked by binding 0 can be taken again before the registry binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const logStart = this.logText.length;
      try {
        await this.run(port, auth);
        return;
      } catch (e) {
        if (attempt >= 5 || !/address already in use/i.test(this.logText.slice(logStart))) throw e;
      }
    }
  }

  private async run(port: number, auth: string): Promise<void> {
    this.port = port;
    const config = [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(this.dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${this.host}`,
      // Without a secret the registry makes one and warns; one instance needs no shared one.
      `  secret: ${randomBytes(16).toString('hex')}`,
      '',
    ].join('\n') + auth;
    fs.writeFileSync(join(this.dir, 'config.yml'), config);
    this.logText += `--- registry start on ${this.host} ${new Date().toISOString()} ---\n`;
    // REGISTRY_* variables override the config file: a stray one on the host must not.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
    const proc = spawn(REGISTRY_BIN, ['serve', join(this.dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.proc = proc;
    const keep = (c: Buffer) => { this.logText = (this.logText + c.toString()).slice(-LOG_CAP); };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => proc.on('close', () => resolve()));
    proc.on('error', (e) => keep(Buffer.from(`spawn ${REGISTRY_BIN}: ${e.message}\n`)));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        await within(this.exited, 1000); // its last words are in the pipes
        throw new Error(`docker-registry exited (${proc.exitCode ?? proc.signalCode}):\n${this.logText}`);
      }
      const status = await probe(`http://${this.host}/v2/`);
      if (status === 200 || status === 401) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`docker-registry did not answer on ${this.host} within ${READY_TIMEOUT_MS} ms:\n${this.logText}`);
  }

  /**
   * key.pem and cert.pem in the dir. RSA key generation takes from 0.2 to 2 s, so one pair is
   * made per test process, in the first token registry's dir, and copied to the later ones.
   */
  private async makeSigningKey(): Promise<void> {
    const key = join(this.dir, 'key.pem');
    const cert = join(this.dir, 'cert.pem');
    signingPair ??= run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${TOKEN_ISSUER}`])
      .then(() => ({ key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(cert, 'utf8') }));
    let pair: { key: string; cert: string };
    try {
      pair = await signingPair;
    } catch (e) {
      signingPair = undefined; // let a later registry try again
      throw e;
    }
    fs.writeFileSync(key, pair.key, { mode: 0o600 });
    fs.writeFileSync(cert, pair.cert);
    this.signer = { key: pair.key, certDer: new X509Certificate(pair.cert).raw.toString('base64') };
  }

  private startIssuer(): Promise<number> {
    const server = http.createServer((req, res) => this.answerToken(req, res));
    this.issuer = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
  }

  /**
   * GET /token?service=S&scope=repository:NAME:pull,push[&scope=…] with optional Basic
   * credentials, as in the distribution token spec. Known users get all they ask for;
   * anonymous requests get pull when anonymousPull is set, else an empty grant (the registry
   * then answers 401, as with Docker Hub). Wrong credentials are a 401 here.
   */
  private answerToken(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://issuer');
    const fail = (status: number, code: string, message: string) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code, message }] }));
    };
    if (req.method !== 'GET' || url.pathname !== '/token') return fail(404, 'NOT_FOUND', `no ${req.method} ${url.pathname} here`);
    const service = url.searchParams.get('service');
    if (service !== null && service !== TOKEN_SERVICE) return fail(400, 'INVALID_REQUEST', `unknown service ${service}`);
    let user: string | undefined;
    const authz = req.headers.authorization;
    if (authz) {
      const m = /^Basic\s+(\S+)$/i.exec(authz);
      const pair = m ? Buffer.from(m[1], 'base64').toString() : '';
      const colon = pair.indexOf(':');
      const [name, password] = colon < 0 ? ['', ''] : [pair.slice(0, colon), pair.slice(colon + 1)];
      if (!Object.hasOwn(this.opts.users, name) || this.opts.users[name] !== password) {
        res.setHeader('WWW-Authenticate', 'Basic realm="berth-test-issuer"');
        return fail(401, 'UNAUTHORIZED', 'incorrect username or password');
      }
      user = name;
    }
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const access: Access[] = [];
    for (const asked of scopes.map(parseScope)) {
      if (!asked) continue;
      const actions = user !== undefined ? asked.actions
        : this.opts.anonymousPull && asked.type === 'repository' ? asked.actions.filter((a) => a === 'pull') : [];
      if (actions.length > 0) access.push({ ...asked, actions });
    }
    this.tokenRequests.push({ scope: scopes, ...(user !== undefined ? { user } : {}), granted: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`) });
    const now = new Date();
    const token = this.sign(user ?? '', access, now);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: now.toISOString() }));
  }

  /**
   * An RS256 JWT that distribution 2.8 accepts: the header carries the signing certificate in
   * x5c (DER, base64) and the registry checks it chains to rootcertbundle (here the same
   * self-signed cert); a `kid` holding the key's libtrust fingerprint works too, x5c needs no
   * fingerprint code. Then it checks iss, aud, exp and nbf. 2.8 takes aud as a string only: an
   * array, valid JWT, is refused. jti and iat it ignores; they are there for real-world shape.
   */
  private sign(sub: string, access: Access[], now: Date): string {
    if (!this.signer) throw new Error('Cannot sign a token: the registry is not in token mode');
    const t = Math.floor(now.getTime() / 1000);
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ typ: 'JWT', alg: 'RS256', x5c: [this.signer.certDer] })}.${b64({
      iss: TOKEN_ISSUER, sub, aud: TOKEN_SERVICE, exp: t + 300, nbf: t - 10, iat: t, jti: randomUUID(), access,
    })}`;
    return `${input}.${createSign('RSA-SHA256').update(input).sign(this.signer.key).toString('base64url')}`;
  }

  /** Token mode: a token granting exactly `scope` (no policy applied), for raw HTTP checks. */
  issueToken(scope: string[], user?: string): string {
    return this.sign(user ?? '', scope.map(parseScope).filter((a): a is Access => a !== undefined), new Date());
  }
}

/** One entry of a token's access claim. */
interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** "repository:NAME:pull,push" → its parts; a NAME may hold ':' (a host with a port). */
function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

/**
 * A bcrypt hash (the only kind distribution's htpasswd accepts) from libxcrypt, through Perl's
 * crypt(): perl-base is Essential in Debian and libcrypt1 does bcrypt ($2b$), so no
 * apache2-utils is needed. The salt is 22 characters of bcrypt's base64; the last one carries
 * only 2 bits, so it comes from the four that leave the unused bits zero.
 */
export async function bcrypt(password: string, cost = 5): Promise<string> {
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const salt = [...randomBytes(21)].map((b) => alphabet[b & 63]).join('') + '.Oeu'[randomBytes(1)[0] & 3];
  const setting = `$2b$${String(cost).padStart(2, '0')}$${salt}`;
  const hash = (await run('perl', ['-e', 'print crypt($ENV{BERTH_PW}, $ENV{BERTH_SETTING})'], { BERTH_PW: password, BERTH_SETTING: setting })).trim();
  if (!hash.startsWith(setting)) throw new Error(`Cannot hash a password with bcrypt: crypt() returned ${JSON.stringify(hash)}`);
  return hash;
}

/** A port that was free on 127.0.0.1 a moment ago. */

/** The status of a GET, or 0 when nothing answered within a second. */
function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
  });
}

function run(bin: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args[0]} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Whether `p` settled within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return done;
}

/**
 * skopeo with everything of its own under `work`: a policy that accepts anything (the host's may
 * demand signatures or be missing), its temp dir (`work/tmp`, made here) and an auth file, so no
 * host configuration leaks in. Each call says which credentials it uses.
 */
export function runSkopeo(work: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, ...rest] = args;
  fs.mkdirSync(join(work, 'tmp'), { recursive: true });
  const policy = join(work, 'skopeo-policy.json');
  if (!fs.existsSync(policy)) fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return new Promise((resolve) => {
    execFile('skopeo', ['--policy', policy, '--tmpdir', join(work, 'tmp'), cmd, '--retry-times', '0', ...rest], {
      timeout: 120_000,
      maxBuffer: 16 << 20,
      env: { ...process.env, REGISTRY_AUTH_FILE: join(work, 'auth.json') },
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
