/**
 * Interactive sessions through a real pty (python's pty module drives the CLI): docker/berth
 * run -it and exec -it (prompt, window size, resize on SIGWINCH, exit code), piped stdin, and
 * attach with ctrl-p ctrl-q detaching while the container keeps running.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Daemon, REPO, until, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

/**
 * Runs argv under a new pty (30x100), playing steps: expect (regex, seconds), send (text),
 * winsize (rows, cols: the kernel sends the CLI SIGWINCH), sleep (seconds). Bounded throughout.
 */
const DRIVER = String.raw`import json, os, pty, re, select, sys, time, fcntl, termios, struct
steps = json.loads(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
out = b''; pos = 0; ok = True; err = ''
def read_some(t):
    global out
    r, _, _ = select.select([fd], [], [], t)
    if r:
        try:
            d = os.read(fd, 4096)
        except OSError:
            return False
        if not d: return False
        out += d
    return True
for st in steps:
    if st[0] == 'expect':
        rx = re.compile(st[1].encode()); deadline = time.time() + st[2]
        while True:
            m = rx.search(out, pos)
            if m: pos = m.end(); break
            if time.time() > deadline or not read_some(0.1) and time.time() > deadline:
                ok = False; err = 'timeout waiting for %r' % st[1]; break
        if not ok: break
    elif st[0] == 'send':
        os.write(fd, st[1].encode('latin-1'))
    elif st[0] == 'winsize':
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', st[1], st[2], 0, 0))
    elif st[0] == 'sleep':
        time.sleep(st[1])
deadline = time.time() + 10; code = None
while time.time() < deadline:
    p, status = os.waitpid(pid, os.WNOHANG)
    if p:
        code = os.waitstatus_to_exitcode(status); break
    read_some(0.1)
if code is None:
    os.kill(pid, 9); os.waitpid(pid, 0)
while read_some(0.05): pass
print(json.dumps({'ok': ok, 'err': err, 'code': code, 'output': out.decode('utf-8', 'replace')}))
`;

type Step = ['expect', string, number] | ['send', string] | ['winsize', number, number] | ['sleep', number];

function pty(cli: 'docker' | 'berth', args: string[], steps: Step[]): Promise<{ ok: boolean; err: string; code: number | null; output: string }> {
  const argv = cli === 'docker' ? ['docker', ...args] : [join(REPO, 'bin', 'berth'), '-H', d.host, ...args];
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', DRIVER, JSON.stringify(steps), ...argv], {
      env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') }, timeout: 60_000,
    }, (err, stdout, stderr) => {
      if (err && !stdout) return reject(new Error(`pty driver failed: ${stderr}`));
      resolve(JSON.parse(stdout));
    });
  });
}

const SHELL_SESSION: Step[] = [
  ['expect', '/ # ', 15], ['send', 'stty size\r'], ['expect', '30 100', 5],
  ['winsize', 50, 120], ['sleep', 0.5], ['send', 'stty size\r'], ['expect', '50 120', 5],
  ['send', 'exit 7\r'],
];

for (const cli of ['docker', 'berth'] as const) {
  test(`${cli} run -it busybox sh: prompt, size, resize, exit code`, async () => {
    const r = await pty(cli, ['run', '-it', '--rm', 'busybox', 'sh'], SHELL_SESSION);
    assert.ok(r.ok, `${r.err}\n${r.output}`);
    assert.equal(r.code, 7, r.output);
  });

  test(`${cli} run -t: the terminal's size is there from the first instant`, async () => {
    // No resize can arrive before `stty size` runs: the size must come with the create.
    const r = await pty(cli, ['run', '-t', '--rm', 'busybox', 'stty', 'size'], [['expect', '\\d+ \\d+', 15]]);
    assert.ok(r.ok, `${r.err}\n${r.output}`);
    assert.match(r.output, /^30 100\r?$/m);
  });

  test(`${cli} exec -it: prompt, size, resize, exit code`, async () => {
    const name = `it-exec-${cli}`;
    assert.equal((await d.docker(['run', '-d', '--name', name, 'busybox', 'sleep', '1000'])).code, 0);
    const r = await pty(cli, ['exec', '-it', name, 'sh'], SHELL_SESSION);
    assert.ok(r.ok, `${r.err}\n${r.output}`);
    assert.equal(r.code, 7, r.output);
    // The TTY exec saw TERM=xterm and a terminal on stdin.
    const t = await pty(cli, ['exec', '-it', name, 'sh', '-c', 'echo $TERM; [ -t 0 ] && echo tty'], [['expect', 'xterm\r?\n', 10], ['expect', 'tty', 5]]);
    assert.ok(t.ok, `${t.err}\n${t.output}`);
    assert.equal(t.code, 0);
    assert.equal((await d.docker(['rm', '-f', name])).code, 0);
  });

  test(`echo hi | ${cli} run -i busybox cat`, async () => {
    const r = await d[cli](['run', '-i', '--rm', 'busybox', 'cat'], { input: 'hi\n' });
    assert.deepEqual([r.code, r.stdout], [0, 'hi\n'], r.stderr);
  });

  test(`${cli} run -it without a terminal: the input device is not a TTY`, async () => {
    const r = await d[cli](['run', '-it', '--rm', 'busybox', 'true'], { input: '' });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'the input device is not a TTY');
    const e = await d[cli](['exec', '-it', 'no-such-ctr-for-tty', 'true'], { input: '' });
    assert.equal(e.code, 1);
  });

  test(`${cli}: detach from run -it and attach with ctrl-p ctrl-q; the container keeps running`, async () => {
    const name = `it-attach-${cli}`;
    const run = await pty(cli, ['run', '-it', '--name', name, 'busybox', 'sh'], [['expect', '/ # ', 15], ['send', '\u0010\u0011'], ['sleep', 0.5]]);
    assert.ok(run.ok, `${run.err}\n${run.output}`);
    assert.equal(run.code, 0, 'detaching from run exits 0');
    assert.doesNotMatch(run.output, /read escape sequence/);
    const state = async () => (await d.docker(['inspect', '-f', '{{.State.Status}}', name])).stdout.trim();
    assert.equal(await state(), 'running');
    const att = await pty(cli, ['attach', name], [
      ['send', '\r'], ['expect', '/ # ', 10], ['send', 'echo again-$((1+1))\r'], ['expect', 'again-2', 5], ['send', '\u0010\u0011'], ['sleep', 0.5],
    ]);
    assert.ok(att.ok, `${att.err}\n${att.output}`);
    assert.equal(att.code, 1);
    assert.match(att.output, /read escape sequence/);
    assert.equal(await state(), 'running');
    // Custom keys; then the shell still takes input and exits with its code.
    const custom = await pty(cli, ['attach', '--detach-keys', 'ctrl-a,x', name], [
      ['send', '\r'], ['expect', '/ # ', 10], ['send', '\u0001x'], ['sleep', 0.5],
    ]);
    assert.ok(custom.ok, `${custom.err}\n${custom.output}`);
    assert.equal(await state(), 'running');
    const last = await pty(cli, ['attach', name], [['send', '\r'], ['expect', '/ # ', 10], ['send', 'exit 3\r']]);
    assert.ok(last.ok, `${last.err}\n${last.output}`);
    assert.equal(last.code, 3);
    assert.equal((await d.docker(['rm', '-f', name])).code, 0);
  });
}

for (const cli of ['docker', 'berth'] as const) {
  test(`${cli} run without a TTY passes the signals it gets on to the container (--sig-proxy)`, async () => {
    const args = ['run', '--rm', 'busybox', 'sh', '-c', 'trap "echo got INT; exit 5" INT; echo ready; while true; do sleep 0.1; done'];
    const argv = cli === 'docker' ? ['docker', ...args] : [join(REPO, 'bin', 'berth'), '-H', d.host, ...args];
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await until(() => out.includes('ready'), 15_000, 'the container to be ready');
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
      assert.equal(code, 5, out);
      assert.match(out, /got INT/);
    } finally {
      child.kill('SIGKILL');
    }
  });
}
