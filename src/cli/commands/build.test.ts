import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { UsageError } from '../command';
import { json, jsonLines, StreamDaemon } from '../fake-daemon';
import { buildArgs, checkPlatform, parseSecret, progressMode, secretsHeader } from './build';

describe('flag values', () => {
  it('--build-arg K takes $K, or null when it is unset, as docker does', () => {
    assert.deepEqual(buildArgs(['A=1', 'B=', 'C', 'D', 'E=x=y'], { C: 'from-env' }), { A: '1', B: '', C: 'from-env', D: null, E: 'x=y' });
    assert.throws(() => buildArgs(['=x']), (e: Error) => e instanceof UsageError && e.message === 'invalid argument "=x" for "--build-arg" flag: invalid environment variable: =x');
  });

  it('--secret reads buildx syntax', () => {
    assert.deepEqual(parseSecret('id=tok,src=/run/tok'), { id: 'tok', src: '/run/tok' });
    assert.deepEqual(parseSecret('id=tok,source=/run/tok'), { id: 'tok', src: '/run/tok' });
    assert.deepEqual(parseSecret('id=tok,env=TOKEN'), { id: 'tok', env: 'TOKEN' });
    assert.deepEqual(parseSecret('type=env,id=tok,src=TOKEN'), { id: 'tok', env: 'TOKEN' });
    assert.deepEqual(parseSecret('src=/a/b/file.key'), { id: 'file.key', src: '/a/b/file.key' });
    assert.throws(() => parseSecret('id=a,bogus=1'), { message: `invalid argument "id=a,bogus=1" for "--secret" flag: unexpected key 'bogus' in 'bogus=1'` });
    assert.throws(() => parseSecret('id'), { message: `invalid argument "id" for "--secret" flag: invalid field 'id' must be a key=value pair` });
    assert.throws(() => parseSecret('type=ssh,id=a'), /unsupported secret type "ssh"/);
  });

  it('secretsHeader carries each secret base64 in base64 JSON; an unset env secret is left out', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-secret-'));
    try {
      fs.writeFileSync(path.join(dir, 'tok'), Buffer.from([0, 1, 2, 255]));
      const h = secretsHeader([{ id: 'f', src: path.join(dir, 'tok') }, { id: 'e', env: 'E' }, { id: 'gone', env: 'NOT_SET' }], { E: 'env-value' })!;
      assert.deepEqual(JSON.parse(Buffer.from(h, 'base64').toString()), { f: 'AAEC/w==', e: Buffer.from('env-value').toString('base64') });
      assert.equal(secretsHeader([]), undefined);
      assert.throws(() => secretsHeader([{ id: 'm', src: path.join(dir, 'missing') }]), { message: `failed to stat ${path.join(dir, 'missing')}: stat ${path.join(dir, 'missing')}: no such file or directory` });
      // One secret over BuildKit's 500 KB; two under it that together do not fit the header.
      fs.writeFileSync(path.join(dir, 'big'), Buffer.alloc(600 * 1024, 1));
      assert.throws(() => secretsHeader([{ id: 'big', src: path.join(dir, 'big') }]), /secret big too big/);
      fs.writeFileSync(path.join(dir, 'half'), Buffer.alloc(400 * 1024, 1));
      assert.throws(() => secretsHeader([{ id: 'h1', src: path.join(dir, 'half') }, { id: 'h2', src: path.join(dir, 'half') }]), /build secrets too large/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--progress and --platform', () => {
    assert.equal(progressMode('plain'), 'plain');
    assert.throws(() => progressMode('fancy'), UsageError);
    const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
    checkPlatform(`linux/${arch}`);
    checkPlatform('');
    const other = arch === 'amd64' ? 'arm64' : 'amd64';
    assert.throws(() => checkPlatform(`linux/${other}`), { message: `platform "linux/${other}" is not supported: berth builds images for the host's platform (linux/${arch}) only` });
    assert.throws(() => checkPlatform('windows/amd64'), /not supported/);
  });
});

async function tarNames(body: Buffer): Promise<string[]> {
  const names: string[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const e of ex) {
      names.push(e.header.name);
      e.resume();
    }
  })();
  ex.end(body);
  await done;
  return names.sort();
}

const ID = 'sha256:' + 'cd'.repeat(32);

describe('berth build against a stand-in daemon', () => {
  const d = new StreamDaemon();
  const berth = async (argv: string[], stdin = '') => {
    const { code, out, err } = await d.berth(argv, { stdin });
    return { code, out, err };
  };
  let ctx = '';
  before(async () => {
    await d.start();
    ctx = path.join(d.dir, 'ctx');
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\n');
    fs.writeFileSync(path.join(ctx, 'a.txt'), 'a');
  });
  after(() => d.stop());

  it('sends the query, the context tar and the secrets header; prints the stream; writes --iidfile', async () => {
    d.reply = () => jsonLines([{ stream: 'Step 1/1 : FROM busybox\n' }, { stream: ' ---> 0123456789ab\n' }, { aux: { ID } }, { stream: 'Successfully built cdcdcdcdcdcd\n' }]);
    const secret = path.join(d.dir, 'tok');
    fs.writeFileSync(secret, 'hush');
    const iid = path.join(d.dir, 'iid');
    const r = await berth(['build', '-t', 'x', '-t', 'y:2', '--build-arg', 'A=1', '--label', 'l=v', '--target', 't', '--no-cache', '--pull', '--rm=false', '--force-rm', '--network', 'host', '--secret', `id=tok,src=${secret}`, '--iidfile', iid, '--progress', 'plain', ctx]);
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
    assert.equal(r.out, 'Sending build context to Docker daemon  3.072kB\nStep 1/1 : FROM busybox\n ---> 0123456789ab\nSuccessfully built cdcdcdcdcdcd\n');
    assert.equal(fs.readFileSync(iid, 'utf8'), ID);
    const req = d.seen.find((s) => s.path === '/build')!;
    assert.deepEqual(Object.fromEntries([...req.query.keys()].map((k) => [k, req.query.getAll(k).join('|')])), {
      t: 'x|y:2', buildargs: '{"A":"1"}', labels: '{"l":"v"}', target: 't', nocache: '1', pull: '1', rm: '0', forcerm: '1', networkmode: 'host', dockerfile: 'Dockerfile',
    });
    assert.equal(req.headers['content-type'], 'application/x-tar');
    assert.deepEqual(JSON.parse(Buffer.from(String(req.headers['x-berth-build-secrets']), 'base64').toString()), { tok: Buffer.from('hush').toString('base64') });
    assert.deepEqual(await tarNames(req.body), ['Dockerfile', 'a.txt']);
  });

  it('exits with the errorDetail code and prints its message on stderr; -q shows the kept output only then', async () => {
    d.reply = () => jsonLines([{ stream: 'Step 1/2 : RUN exit 7\n' }, { stream: 'out of RUN\n' }, { errorDetail: { code: 7, message: 'returned a non-zero code: 7' }, error: 'returned a non-zero code: 7' }]);
    assert.deepEqual(await berth(['build', '--progress=plain', ctx]), { code: 7, out: 'Sending build context to Docker daemon  3.072kB\nStep 1/2 : RUN exit 7\nout of RUN\n', err: 'returned a non-zero code: 7\n' });
    assert.deepEqual(await berth(['build', '-q', ctx]), { code: 7, out: '', err: 'Step 1/2 : RUN exit 7\nout of RUN\nreturned a non-zero code: 7\n' });
    d.reply = () => jsonLines([{ errorDetail: { message: 'Dockerfile:1: unknown instruction: FORM' }, error: 'x' }]);
    assert.equal((await berth(['build', '-q', ctx])).code, 1);
  });

  it('-q prints the image id; a Dockerfile on stdin travels as the only file of the context', async () => {
    d.reply = () => jsonLines([{ aux: { ID } }, { stream: `${ID}\n` }]);
    const r = await berth(['build', '-q', '-'], 'FROM busybox\nRUN true\n');
    assert.deepEqual(r, { code: 0, out: `${ID}\n`, err: '' });
    const req = d.seen.find((s) => s.path === '/build')!;
    assert.equal(req.query.get('q'), '1');
    assert.equal(req.query.get('dockerfile'), 'Dockerfile');
    assert.deepEqual(await tarNames(req.body), ['Dockerfile']);
  });

  it('-f - with a directory context adds the Dockerfile under a generated name', async () => {
    d.reply = () => jsonLines([{ aux: { ID } }]);
    const r = await berth(['build', '-q', '-f', '-', ctx], 'FROM busybox\n');
    assert.equal(r.code, 0, r.err);
    const req = d.seen.find((s) => s.path === '/build')!;
    const name = req.query.get('dockerfile')!;
    assert.match(name, /^\.dockerfile\.[0-9a-f]{20}$/);
    assert.deepEqual(await tarNames(req.body), [name, '.dockerignore', 'Dockerfile', 'a.txt'].sort());
  });

  it('an error before the stream is the daemon\'s; usage errors exit 125', async () => {
    d.reply = () => json(400, { message: 'invalid tag' });
    assert.deepEqual(await berth(['build', '--progress=plain', ctx]), { code: 1, out: '', err: 'Error response from daemon: invalid tag\n' });
    const bad = await berth(['build', '--build-arg', '=1', ctx]);
    assert.equal(bad.code, 125);
    assert.equal(bad.err, `invalid argument "=1" for "--build-arg" flag: invalid environment variable: =1\nSee 'berth build --help'.\n`);
    assert.deepEqual(await berth(['build', path.join(d.dir, 'nope')]), { code: 1, out: '', err: `unable to prepare context: path "${path.join(d.dir, 'nope')}" not found\n` });
  });

  it('builder prune asks first, then prints what the daemon deleted', async () => {
    d.reply = (r) => (r.path === '/build/prune' ? json(200, { CachesDeleted: ['abc', 'def'], SpaceReclaimed: 2048 }) : json(404, {}));
    assert.deepEqual(await berth(['builder', 'prune'], 'n\n'), { code: 0, out: 'WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ', err: '' });
    assert.equal(d.seen.length, 0);
    const r = await berth(['builder', 'prune', '-a', '--filter', 'until=24h'], 'y\n');
    assert.equal(r.out, 'WARNING! This will remove all build cache. Are you sure you want to continue? [y/N] Deleted build cache objects:\nabc\ndef\n\nTotal reclaimed space: 2.048kB\n');
    const req = d.seen.find((s) => s.path === '/build/prune')!;
    assert.equal(req.query.get('all'), '1');
    assert.deepEqual(JSON.parse(req.query.get('filters')!), { until: { '24h': true } });
  });
});
