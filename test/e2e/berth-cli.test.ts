/**
 * The berth CLI: the same user flows as with the docker CLI, with Docker's output formats,
 * flags and exit codes.
 */
import assert from 'node:assert/strict';
import { busyboxTar, Daemon, until, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: false }, (daemon) => (d = daemon));

test('berth version shows client and server', async () => {
  const r = await d.berth(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Client:\n Version:\s+0\.1\.0\n/);
  assert.match(r.stdout, /\nServer: berth\n Engine:\n  Version:\s+0\.1\.0\n  API version:\s+1\.50 \(minimum version 1\.24\)/);
  const f = await d.berth(['version', '--format', '{{.Server.ApiVersion}}']);
  assert.equal(f.stdout, '1.50\n');
});

test('berth info reports the store', async () => {
  const r = await d.berth(['info', '--format', '{{.Driver}} {{.Images}} {{.DockerRootDir}}']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `overlay2 0 ${d.dataRoot}\n`);
});

test('berth import from a file and from stdin, with --change and --message', async () => {
  const fromFile = await d.berth(['import', busyboxTar(), 'busybox']);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.match(fromFile.stdout, /^sha256:[a-f0-9]{64}\n$/);

  const tar = require('node:fs').readFileSync(busyboxTar());
  const fromStdin = await d.berth(['import', '-c', 'CMD ["echo", "from the image"]', '-c', 'ENV MOOD=sunny', '-m', 'made by a test', '-', 'tools:v2'], { input: tar });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  const inspect = await d.berth(['image', 'inspect', '--format', '{{json .Config.Cmd}} {{index .Config.Env 0}} {{.Comment}}', 'tools:v2']);
  assert.equal(inspect.stdout, '["echo","from the image"] MOOD=sunny made by a test\n');
  const run = await d.berth(['run', '--rm', 'tools:v2']);
  assert.equal(run.stdout, 'from the image\n');
});

test('berth run: --rm, exit codes, -e, -w, -u, -h, --entrypoint, -l, --name', async () => {
  const hello = await d.berth(['run', '--rm', 'busybox', 'echo', 'hello from berth']);
  assert.equal(hello.code, 0, hello.stderr);
  assert.equal(hello.stdout, 'hello from berth\n');

  const three = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']);
  assert.equal(three.code, 3);

  const env = await d.berth(['run', '--rm', '-e', 'A=1', '-e', 'B=two words', '-w', '/tmp/work', '-u', '65534:65534', '-h', 'myhost', 'busybox',
    'sh', '-c', 'echo "$A|$B|$(pwd)|$(id -u):$(id -g)|$(hostname)|$HOME"']);
  assert.equal(env.code, 0, env.stderr);
  assert.equal(env.stdout, '1|two words|/tmp/work|65534:65534|myhost|/nonexistent\n');

  const ep = await d.berth(['run', '--rm', '--entrypoint', 'printf', 'busybox', '%s-%s', 'a', 'b']);
  assert.equal(ep.stdout, 'a-b');

  const named = await d.berth(['run', '--name', 'labelled', '-l', 'team=core', '-l', 'flag', 'busybox', 'true']);
  assert.equal(named.code, 0, named.stderr);
  const labels = await d.berth(['inspect', '--format', '{{json .Config.Labels}} {{.Name}}', 'labelled']);
  assert.equal(labels.stdout, '{"flag":"","team":"core"} /labelled\n');
});

test('berth run -i passes stdin and closes it', async () => {
  const r = await d.berth(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'wc -l; cat'], { input: 'one\ntwo\nthree\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '3');
});

test('berth run -d, ps, logs, stop, kill, wait, start, rm', async () => {
  const run = await d.berth(['run', '-d', '--name', 'svc', 'busybox', 'sh', '-c', 'echo started; trap "echo bye; exit 7" TERM; trap "exit 12" USR1; while true; do sleep 0.1; done']);
  assert.equal(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  assert.match(id, /^[a-f0-9]{64}$/);

  const ps = await d.berth(['ps']);
  assert.match(ps.stdout, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/m);
  assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c 'echo started…"\\s+.+ ago\\s+Up .+\\s+svc$`, 'm'));
  assert.equal((await d.berth(['ps', '-q', '--no-trunc'])).stdout, `${id}\n`);

  await until(async () => (await d.berth(['logs', 'svc'])).stdout === 'started\n', 10_000, 'first log line');
  const stop = await d.berth(['stop', 'svc']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout, 'svc\n');
  assert.equal((await d.berth(['wait', 'svc'])).stdout, '7\n');
  assert.equal((await d.berth(['logs', 'svc'])).stdout, 'started\nbye\n');
  assert.equal((await d.berth(['logs', '--tail', '1', 'svc'])).stdout, 'bye\n');

  const start = await d.berth(['start', 'svc']);
  assert.equal(start.stdout, 'svc\n');
  assert.match((await d.berth(['ps', '--format', '{{.Names}} {{.State}}'])).stdout, /^svc running$/m);
  const kill = await d.berth(['kill', '-s', 'USR1', 'svc']);
  assert.equal(kill.code, 0, kill.stderr);
  // PID 1 only receives signals it handles: the trap decides the exit code.
  assert.equal((await d.berth(['wait', 'svc'])).stdout, '12\n');

  const notRunning = await d.berth(['kill', 'svc']);
  assert.equal(notRunning.code, 1);
  assert.match(notRunning.stderr, /^Error response from daemon: Cannot kill container: svc: container [a-f0-9]{64} is not running\n$/);

  const rm = await d.berth(['rm', 'svc', 'nosuch']);
  assert.equal(rm.code, 1);
  assert.equal(rm.stdout, 'svc\n');
  assert.equal(rm.stderr, 'Error response from daemon: No such container: nosuch\n');
});

test('berth create then start -a', async () => {
  const create = await d.berth(['create', '--name', 'later', 'busybox', 'sh', '-c', 'echo later; exit 5']);
  assert.equal(create.code, 0, create.stderr);
  assert.match((await d.berth(['ps', '-a', '--filter', 'status=created', '--format', '{{.Names}}'])).stdout, /^later$/m);
  const start = await d.berth(['start', '-a', 'later']);
  assert.equal(start.code, 5);
  assert.equal(start.stdout, 'later\n');
});

test('berth images, tag, rmi', async () => {
  assert.equal((await d.berth(['tag', 'busybox', 'example.com/team/bb:1.0'])).code, 0);
  const images = await d.berth(['images']);
  assert.match(images.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
  assert.match(images.stdout, /^example\.com\/team\/bb\s+1\.0\s+[a-f0-9]{12}\s+.+ ago\s+[\d.]+MB$/m);
  const filtered = await d.berth(['images', 'example.com/team/bb', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.equal(filtered.stdout, 'example.com/team/bb:1.0\n');
  const rmi = await d.berth(['rmi', 'example.com/team/bb:1.0']);
  assert.equal(rmi.stdout, 'Untagged: example.com/team/bb:1.0\n');
});

test('berth usage errors behave as docker: 125 for flags, 1 for arguments', async () => {
  const flag = await d.berth(['run', '--bogus', 'busybox']);
  assert.equal(flag.code, 125);
  assert.equal(flag.stderr, "unknown flag: --bogus\nSee 'berth run --help'.\n");
  const args = await d.berth(['rm']);
  assert.equal(args.code, 1);
  assert.match(args.stderr, /^"berth rm" requires at least 1 argument\.\nSee 'berth rm --help'\.\n\nUsage:  berth rm \[OPTIONS\] CONTAINER \[CONTAINER\.\.\.\]/);
  const cmd = await d.berth(['frobnicate']);
  assert.equal(cmd.code, 1);
  const help = await d.berth(['run', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage:  berth run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]/);
});

test('berth run of a missing image or command fails with Docker\'s codes', async () => {
  const noImage = await d.berth(['run', '--rm', 'nosuchimage']);
  assert.equal(noImage.code, 125);
  assert.match(noImage.stderr, /^Unable to find image 'nosuchimage:latest' locally\n/);
  const noCmd = await d.berth(['run', '--rm', 'busybox', '/no/such/binary']);
  assert.equal(noCmd.code, 127);
  assert.match(noCmd.stderr, /no such file or directory/);
});

test('BERTH_HOST selects the daemon', async () => {
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    require('node:child_process').execFile(
      require('node:path').join(__dirname, '..', '..', '..', 'bin', 'berth'), ['version', '--format', '{{.Server.Version}}'],
      { env: { ...process.env, BERTH_HOST: d.host } },
      (err: { code?: number } | null, out: string) => resolve({ code: err?.code ?? 0, out }),
    );
  });
  assert.equal(r.code, 0);
  assert.equal(r.out, '0.1.0\n');
});
