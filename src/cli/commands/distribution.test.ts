import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { INDEX_SERVER } from '../credentials';
import { FakeDaemon, json, jsonLines, type StreamRequest as Req, StreamDaemon } from '../fake-daemon';
import { platformJson } from './distribution';

const authOf = (r: Req) => JSON.parse(Buffer.from(String(r.headers['x-registry-auth']), 'base64url').toString()) as unknown;
const b64 = (s: string) => Buffer.from(s).toString('base64');

const d = new StreamDaemon();
const fake = new FakeDaemon();
const savedConfig = process.env.DOCKER_CONFIG;
let configDir = '';
const configFile = () => path.join(configDir, 'config.json');
const readConfig = () => JSON.parse(fs.readFileSync(configFile(), 'utf8')) as { auths: Record<string, Record<string, string>> } & Record<string, unknown>;

before(async () => {
  await d.start();
  await fake.start();
});
after(() => {
  d.stop();
  fake.stop();
  if (savedConfig === undefined) delete process.env.DOCKER_CONFIG;
  else process.env.DOCKER_CONFIG = savedConfig;
});
beforeEach(() => {
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dockercfg-'));
  process.env.DOCKER_CONFIG = configDir;
});

const PULL_STREAM = [
  { status: 'Pulling from library/busybox', id: 'latest' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'a1' },
  { status: 'Downloading', progressDetail: { current: 500, total: 1000 }, progress: '[=>  ]', id: 'a1' },
  { status: 'Pull complete', progressDetail: {}, id: 'a1' },
  { status: 'Digest: sha256:' + 'd'.repeat(64) },
  { status: 'Status: Downloaded newer image for busybox:latest' },
];

describe('pull', () => {
  it('sends the repository and tag, X-Registry-Auth, and prints the stream then the reference', async () => {
    fs.writeFileSync(configFile(), JSON.stringify({ auths: { [INDEX_SERVER]: { auth: b64('hub:pw') } } }));
    d.reply = (r) => (r.path === '/images/create' ? jsonLines(PULL_STREAM) : undefined);
    const r = await d.berth(['pull', 'busybox']);
    assert.deepEqual([r.code, r.err], [0, '']);
    assert.equal(r.out, [
      'Using default tag: latest', 'latest: Pulling from library/busybox', 'a1: Pulling fs layer', 'a1: Pull complete',
      `Digest: sha256:${'d'.repeat(64)}`, 'Status: Downloaded newer image for busybox:latest', 'docker.io/library/busybox:latest', '',
    ].join('\n'));
    const req = d.seen[0]!;
    assert.equal(req.method, 'POST');
    assert.deepEqual([...req.query], [['fromImage', 'docker.io/library/busybox'], ['tag', 'latest']]);
    assert.deepEqual(authOf(req), { username: 'hub', password: 'pw', serveraddress: INDEX_SERVER });
  });

  it('digests go in tag; -a sends no tag; --platform; anonymous is "{}"; -q prints only the reference', async () => {
    d.reply = (r) => (r.path === '/images/create' ? jsonLines(PULL_STREAM) : undefined);
    const digest = 'sha256:' + 'e'.repeat(64);
    const r = await d.berth(['image', 'pull', '-q', '--platform', 'Linux/ARM64', `localhost:5000/x/y@${digest}`]);
    assert.deepEqual(r, { code: 0, out: `localhost:5000/x/y@${digest}\n`, err: '', stdin: r.stdin });
    assert.deepEqual([...d.seen[0]!.query], [['fromImage', 'localhost:5000/x/y'], ['tag', digest], ['platform', 'linux/arm64']]);
    assert.equal(d.seen[0]!.headers['x-registry-auth'], 'e30=');
    const all = await d.berth(['pull', '-a', 'busybox']);
    assert.equal(all.out.split('\n').at(-2), 'docker.io/library/busybox');
    assert.deepEqual([...d.seen[0]!.query], [['fromImage', 'docker.io/library/busybox']]);
  });

  it('on a terminal the layers are drawn in place', async () => {
    d.reply = (r) => (r.path === '/images/create' ? jsonLines(PULL_STREAM) : undefined);
    const r = await d.berth(['pull', 'busybox:1.36'], { stdoutTTY: true });
    assert.match(r.out, /^latest: Pulling from library\/busybox\n\n\x1b\[1A\x1b\[2K\ra1: Pulling fs layer \r\x1b\[1B\x1b\[1A\x1b\[2K\ra1: Downloading \[={25}>/);
  });

  it('errors: in-band ends with exit 1 and the bare message; daemon errors are prefixed; bad references and -a with a tag', async () => {
    d.reply = () => jsonLines([{ status: 'Pulling from x/y', id: 'latest' }, { errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' }]);
    assert.deepEqual(await d.berth(['pull', 'x/y']).then(({ code, out, err }) => ({ code, out, err })),
      { code: 1, out: 'Using default tag: latest\nlatest: Pulling from x/y\n', err: 'manifest unknown\n' });
    d.reply = () => json(404, { message: 'pull access denied for nosuch, repository does not exist or may require \'docker login\'' });
    const denied = await d.berth(['pull', 'nosuch']);
    assert.deepEqual([denied.code, denied.err], [1, 'Error response from daemon: pull access denied for nosuch, repository does not exist or may require \'docker login\'\n']);
    const tagged = await d.berth(['pull', '-a', 'busybox:1']);
    assert.deepEqual([tagged.code, tagged.err, d.seen.length], [1, "tag can't be used with --all-tags/-a\n", 0]);
    const bad = await d.berth(['pull', 'busybox/Upper']);
    assert.deepEqual([bad.code, bad.err], [1, 'invalid reference format: repository name (busybox/Upper) must be lowercase\n']);
  });
});

describe('push', () => {
  it('posts to /images/{repository}/push with the tag and credentials; -q prints the reference', async () => {
    fs.writeFileSync(configFile(), JSON.stringify({ auths: { 'localhost:5000': { auth: b64('me:pw') } } }));
    const aux = { Tag: 'latest', Digest: 'sha256:' + 'f'.repeat(64), Size: 527 };
    d.reply = (r) => (r.path.endsWith('/push') ? jsonLines([
      { status: 'The push refers to repository [localhost:5000/app]' },
      { status: 'Pushed', progressDetail: {}, id: 'abc' },
      { status: `latest: digest: ${aux.Digest} size: 527` },
      { progressDetail: {}, aux },
    ]) : undefined);
    const r = await d.berth(['push', 'localhost:5000/app']);
    assert.deepEqual([r.code, r.err], [0, '']);
    assert.equal(r.out, `Using default tag: latest\nThe push refers to repository [localhost:5000/app]\nabc: Pushed\nlatest: digest: ${aux.Digest} size: 527\n`);
    assert.equal(d.seen[0]!.path, '/images/localhost:5000/app/push');
    assert.deepEqual([...d.seen[0]!.query], [['tag', 'latest']]);
    assert.deepEqual(authOf(d.seen[0]!), { username: 'me', password: 'pw', serveraddress: 'localhost:5000' });
    const q = await d.berth(['image', 'push', '-q', 'localhost:5000/app:v1']);
    assert.deepEqual([q.code, q.out], [0, 'localhost:5000/app:v1\n']);
    const all = await d.berth(['push', '--all-tags', 'busybox']);
    assert.deepEqual([all.code, d.seen[0]!.path, [...d.seen[0]!.query]], [0, '/images/docker.io/library/busybox/push', []]);
  });

  it('refuses digests and tags with -a; --platform is sent as OCI JSON with docker\'s note', async () => {
    const dig = await d.berth(['push', `busybox@sha256:${'a'.repeat(64)}`]);
    assert.deepEqual([dig.code, dig.err, d.seen.length], [1, 'cannot push a digest reference\n', 0]);
    d.reply = () => jsonLines([{ status: 'ok' }]);
    const p = await d.berth(['push', '--platform', 'linux/amd64', 'r.example/app:1']);
    assert.equal(p.code, 0);
    assert.equal(d.seen[0]!.query.get('platform'), '{"architecture":"amd64","os":"linux"}');
    assert.match(p.out, /^\n Info -> Using --platform pushes only the specified platform manifest of a multi-platform image index\.\n {9}Other components/);
  });
});

describe('login', () => {
  it('-u/-p posts /auth, stores the credentials 0600 keeping other keys, and warns about -p', async () => {
    fs.writeFileSync(configFile(), JSON.stringify({ credsStore: '', psFormat: 'table {{.ID}}', auths: { 'other.example': { auth: b64('o:p') } } }));
    fake.reply = (s) => (s.url === '/auth' ? { status: 200, body: { Status: 'Login Succeeded', IdentityToken: '' } } : undefined);
    const r = await fake.berth(['login', '-u', 'alice', '-p', 'secret', 'https://registry.example:5000/v2/']);
    assert.equal(r.code, 0);
    assert.equal(r.out, 'Login Succeeded\n');
    assert.equal(r.err, 'WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n' +
      `\nWARNING! Your credentials are stored unencrypted in '${configFile()}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`);
    assert.deepEqual(fake.seen[0], { method: 'POST', url: '/auth', body: { username: 'alice', password: 'secret', serveraddress: 'registry.example:5000' } });
    assert.deepEqual(readConfig(), { credsStore: '', psFormat: 'table {{.ID}}', auths: { 'other.example': { auth: b64('o:p') }, 'registry.example:5000': { auth: b64('alice:secret') } } });
    // An existing file keeps its mode; a new one is 0600.
    fs.rmSync(configFile());
    await fake.berth(['login', '-u', 'alice', '--password-stdin'], 'from-stdin\n');
    assert.equal(fs.statSync(configFile()).mode & 0o777, 0o600);
    assert.deepEqual(fake.seen[0]!.body, { username: 'alice', password: 'from-stdin', serveraddress: INDEX_SERVER });
    assert.deepEqual(readConfig().auths, { [INDEX_SERVER]: { auth: b64('alice:from-stdin') } });
  });

  it('stores an identity token instead of the password when the daemon returns one', async () => {
    fake.reply = () => ({ status: 200, body: { Status: 'Login Succeeded', IdentityToken: 'itok' } });
    const r = await fake.berth(['login', '-u', 'bob', '--password-stdin', 'docker.io'], 'pw');
    assert.deepEqual([r.code, r.out, r.err], [0, 'Login Succeeded\n', '']);
    assert.deepEqual(readConfig().auths, { [INDEX_SERVER]: { auth: b64('bob:'), identitytoken: 'itok' } });
  });

  it('flag errors and a non-TTY without credentials fail as docker does, writing nothing', async () => {
    const cases: [string[], string][] = [
      [['login', '-p', 'x', '--password-stdin'], 'conflicting options: cannot specify both --password and --password-stdin'],
      [['login', '--password-stdin'], 'the --password-stdin option requires --username to be set'],
      [['login', '-u', ''], 'username is empty'],
      [['login'], 'Error: Cannot perform an interactive login from a non TTY device'],
      [['login', '-u', 'bob', 'r.example'], 'Error: Cannot perform an interactive login from a non TTY device'],
    ];
    for (const [argv, msg] of cases) {
      const r = await fake.berth(argv);
      assert.deepEqual([r.code, r.err, fake.seen.length], [1, `${msg}\n`, 0], argv.join(' '));
    }
    assert.equal(fs.existsSync(configFile()), false);
  });

  it('a rejected login is the daemon\'s error, exit 1, nothing stored', async () => {
    fake.reply = () => ({ status: 401, body: { message: 'login attempt to https://r.example/v2/ failed with status: 401 Unauthorized' } });
    const r = await fake.berth(['login', '-u', 'a', '--password-stdin', 'r.example'], 'bad');
    assert.deepEqual([r.code, r.err], [1, 'Error response from daemon: login attempt to https://r.example/v2/ failed with status: 401 Unauthorized\n']);
    assert.equal(fs.existsSync(configFile()), false);
  });

  it('prompts for the username and, without echo, the password on a terminal', async () => {
    d.reply = (r) => (r.path === '/auth' ? json(200, { Status: 'Login Succeeded' }) : undefined);
    const r = await d.berth(['login', 'r.example'], { stdinTTY: true, stdin: '  carol \nse\x7fecret\r' });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'Username: Password: \nLogin Succeeded\n');
    assert.deepEqual(JSON.parse(d.seen[0]!.body.toString()), { username: 'carol', password: 'secret', serveraddress: 'r.example' });
    assert.deepEqual((r.stdin as unknown as { rawModes: boolean[] }).rawModes, [true, false]);
  });

  it('without flags, stored credentials are tried first', async () => {
    fs.writeFileSync(configFile(), JSON.stringify({ auths: { 'r.example': { auth: b64('dave:pw') } } }));
    fake.reply = () => ({ status: 200, body: { Status: 'Login Succeeded' } });
    const r = await fake.berth(['login', 'r.example']);
    assert.deepEqual([r.code, r.out], [0, 'Login Succeeded\n']);
    assert.match(r.err, /^Authenticating with existing credentials\.\.\. \[Username: dave\]\n/);
    assert.deepEqual(fake.seen[0]!.body, { username: 'dave', password: 'pw', serveraddress: 'r.example' });
  });
});

describe('logout', () => {
  it('removes the entry (and the URL spellings of it), keeping the rest', async () => {
    fs.writeFileSync(configFile(), JSON.stringify({ auths: { 'r.example': { auth: b64('a:b') }, 'https://r.example': { auth: b64('a:b') }, [INDEX_SERVER]: { auth: b64('h:p') } }, detachKeys: 'ctrl-x' }));
    const r = await fake.berth(['logout', 'https://r.example/v2/']);
    assert.deepEqual([r.code, r.out, r.err], [0, 'Removing login credentials for r.example\n', '']);
    assert.deepEqual(readConfig(), { auths: { [INDEX_SERVER]: { auth: b64('h:p') } }, detachKeys: 'ctrl-x' });
    const hub = await fake.berth(['logout']);
    assert.deepEqual([hub.code, hub.out], [0, `Removing login credentials for ${INDEX_SERVER}\n`]);
    assert.deepEqual(readConfig(), { auths: {}, detachKeys: 'ctrl-x' });
  });

  it('when not logged in says the same and leaves the file alone (docker 28 does not check)', async () => {
    const r = await fake.berth(['logout', 'nowhere.example']);
    assert.deepEqual([r.code, r.out, r.err], [0, 'Removing login credentials for nowhere.example\n', '']);
    assert.equal(fs.existsSync(configFile()), false);
  });
});

describe('save', () => {
  it('refuses a terminal, and fails before asking the daemon for a bad -o', async () => {
    const r = await d.berth(['save', 'busybox'], { stdoutTTY: true });
    assert.deepEqual([r.code, r.err, d.seen.length], [1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect\n', 0]);
    const dir = await d.berth(['save', '-o', '/nonexistent-dir/x.tar', 'busybox']);
    assert.deepEqual([dir.code, dir.err, d.seen.length], [1, 'failed to save image: invalid output path: stat /nonexistent-dir: no such file or directory\n', 0]);
    const isDir = await d.berth(['save', '-o', configDir, 'busybox']);
    assert.deepEqual([isDir.code, isDir.err], [1, 'failed to save image: cannot write to a directory\n']);
  });

  it('GETs /images/get?names=… and writes the body to -o atomically, or to stdout', async () => {
    const tar = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    d.reply = (r) => (r.path === '/images/get' ? { status: 200, headers: { 'Content-Type': 'application/x-tar' }, body: tar } : undefined);
    const file = path.join(configDir, 'out.tar');
    const r = await d.berth(['save', '-o', file, 'busybox', 'alpine:3']);
    assert.deepEqual([r.code, r.out, r.err], [0, '', '']);
    assert.deepEqual([...d.seen[0]!.query], [['names', 'busybox'], ['names', 'alpine:3']]);
    assert.deepEqual(fs.readFileSync(file), tar);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(configDir).sort(), ['out.tar']);
    const piped = await d.berth(['image', 'save', 'busybox']);
    assert.deepEqual(Buffer.from(piped.out, 'latin1'), tar);
  });

  it('a daemon error leaves no file behind', async () => {
    d.reply = () => json(404, { message: 'reference does not exist' });
    const file = path.join(configDir, 'none.tar');
    const r = await d.berth(['save', '-o', file, 'nosuch']);
    assert.deepEqual([r.code, r.err], [1, 'Error response from daemon: reference does not exist\n']);
    assert.deepEqual(fs.readdirSync(configDir), []);
  });
});

describe('load', () => {
  const loaded = jsonLines([{ status: 'Loading layer', progressDetail: { current: 512, total: 1024 }, id: 'abc' }, { stream: 'Loaded image: busybox:latest\n' }]);

  it('POSTs the -i file as application/x-tar, quiet off a terminal, and prints what was loaded', async () => {
    const tar = Buffer.from('not really a tar '.repeat(5000));
    const file = path.join(configDir, 'in.tar');
    fs.writeFileSync(file, tar);
    d.reply = (r) => (r.path === '/images/load' ? loaded : undefined);
    const r = await d.berth(['load', '-i', file]);
    assert.deepEqual([r.code, r.out, r.err], [0, 'Loaded image: busybox:latest\n', '']);
    assert.equal(d.seen[0]!.method, 'POST');
    assert.equal(d.seen[0]!.headers['content-type'], 'application/x-tar');
    assert.deepEqual([...d.seen[0]!.query], [['quiet', '1']]);
    assert.deepEqual(d.seen[0]!.body, tar);
  });

  it('reads stdin; on a terminal asks for progress (quiet=0) unless -q', async () => {
    d.reply = (r) => (r.path === '/images/load' ? loaded : undefined);
    const r = await d.berth(['image', 'load'], { stdin: 'TARBYTES', stdoutTTY: true });
    assert.equal(r.code, 0);
    assert.equal(d.seen[0]!.body.toString(), 'TARBYTES');
    assert.equal(d.seen[0]!.query.get('quiet'), '0');
    assert.match(r.out, /abc: Loading layer/);
    await d.berth(['load', '-q'], { stdin: 'x', stdoutTTY: true });
    assert.equal(d.seen[0]!.query.get('quiet'), '1');
  });

  it('refuses a terminal on stdin and a missing file; a non-JSON answer is copied as is', async () => {
    const tty = await d.berth(['load'], { stdinTTY: true });
    assert.deepEqual([tty.code, tty.err, d.seen.length], [1, 'requested load from stdin, but stdin is empty\n', 0]);
    const missing = await d.berth(['load', '-i', '/nonexistent.tar']);
    assert.deepEqual([missing.code, missing.err, d.seen.length], [1, 'open /nonexistent.tar: no such file or directory\n', 0]);
    d.reply = () => ({ status: 200, headers: { 'Content-Type': 'text/plain' }, body: 'plain words\n' });
    assert.equal((await d.berth(['load'], { stdin: 'x' })).out, 'plain words\n');
  });
});

describe('run/create pull the image when it is missing', () => {
  const missing = json(404, { message: 'No such image: busybox:latest' });

  it('create: "Unable to find image" and the pull on stderr, then create again', async () => {
    let creates = 0;
    d.reply = (r) => {
      if (r.path === '/containers/create') return ++creates === 1 ? missing : json(201, { Id: 'c1', Warnings: [] });
      if (r.path === '/images/create') return jsonLines(PULL_STREAM.slice(0, 2));
      return undefined;
    };
    const r = await d.berth(['create', 'busybox']);
    assert.deepEqual([r.code, r.out], [0, 'c1\n']);
    assert.equal(r.err, "Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\na1: Pulling fs layer\n");
    assert.deepEqual(d.seen.map((s) => s.path), ['/containers/create', '/images/create', '/containers/create']);
    assert.deepEqual([...d.seen[1]!.query], [['fromImage', 'docker.io/library/busybox'], ['tag', 'latest']]);
    assert.equal(d.seen[1]!.headers['x-registry-auth'], 'e30=');
  });

  it('-q pulls silently; --pull always pulls first; --pull never does not pull; a bad --pull is refused', async () => {
    let creates = 0;
    d.reply = (r) => {
      if (r.path === '/containers/create') return ++creates % 2 === 1 ? missing : json(201, { Id: 'c2', Warnings: null });
      if (r.path === '/images/create') return jsonLines(PULL_STREAM);
      return undefined;
    };
    const q = await d.berth(['create', '-q', 'busybox']);
    assert.deepEqual([q.code, q.out, q.err], [0, 'c2\n', '']);
    d.reply = (r) => (r.path === '/containers/create' ? json(201, { Id: 'c3', Warnings: null }) : r.path === '/images/create' ? jsonLines([]) : undefined);
    const always = await d.berth(['create', '--pull', 'always', '--platform', 'linux/amd64', 'busybox']);
    assert.deepEqual([always.code, d.seen.map((s) => s.path)], [0, ['/images/create', '/containers/create']]);
    assert.equal(d.seen[0]!.query.get('platform'), 'linux/amd64');
    assert.equal(d.seen[1]!.query.get('platform'), 'linux/amd64');
    d.reply = () => missing;
    const never = await d.berth(['run', '--pull', 'never', 'busybox']);
    assert.deepEqual([never.code, d.seen.map((s) => s.path)], [125, ['/containers/create']]);
    assert.equal(never.err, "berth: Error response from daemon: No such image: busybox:latest\n\nRun 'berth run --help' for more information\n");
    const bad = await d.berth(['run', '--pull', 'sometimes', 'busybox']);
    assert.deepEqual([bad.code, d.seen.length], [125, 0]);
    assert.equal(bad.err, 'berth: invalid pull option: \'sometimes\': must be one of "always", "missing" or "never"\n\nRun \'berth run --help\' for more information\n');
  });

  it('a failed pull is the run error (exit 125)', async () => {
    d.reply = (r) => (r.path === '/containers/create' ? missing : jsonLines([{ errorDetail: { message: 'manifest unknown' }, error: 'manifest unknown' }]));
    const r = await d.berth(['run', 'busybox']);
    assert.equal(r.code, 125);
    assert.equal(r.err, "Unable to find image 'busybox:latest' locally\nberth: manifest unknown\n\nRun 'berth run --help' for more information\n");
  });
});

describe('platformJson', () => {
  it('is the OCI platform JSON docker sends, architectures normalized', () => {
    assert.equal(platformJson('linux/x86_64'), '{"architecture":"amd64","os":"linux"}');
    assert.equal(platformJson('linux/arm/v7'), '{"architecture":"arm","os":"linux","variant":"v7"}');
    assert.equal(platformJson('linux/arm64/v8'), '{"architecture":"arm64","os":"linux"}');
    assert.throws(() => platformJson('a/b/c/d'), /unknown operating system or architecture/);
  });
});
