/**
 * docker-py (Debian's python3-docker) against berthd, unchanged: run, logs, exec, stop, remove.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Daemon, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const SCRIPT = `
import json, sys, docker
client = docker.DockerClient(base_url=sys.argv[1], version="auto", timeout=60)
out = {}
out["ping"] = client.ping()
out["run_output"] = client.containers.run("busybox", ["echo", "hello from docker-py"], remove=True).decode()
c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="pyc", labels={"from": "py"})
c.reload()
out["status"] = c.status
out["labels"] = c.labels
code, output = c.exec_run(["sh", "-c", "echo exec says hi; exit 3"])
out["exec"] = [code, output.decode()]
code, output = c.exec_run("cat /etc/hostname", workdir="/tmp", environment={"A": "1"})
out["hostname"] = output.decode().strip()
out["listed"] = [x.name for x in client.containers.list(filters={"label": "from=py"})]
c.stop(timeout=1)
c.reload()
out["after_stop"] = [c.status, c.attrs["State"]["ExitCode"]]
c.remove()
out["after_remove"] = [x.name for x in client.containers.list(all=True, filters={"name": "pyc"})]
try:
    client.containers.get("pyc")
    out["get_missing"] = "found"
except docker.errors.NotFound:
    out["get_missing"] = "NotFound"
print(json.dumps(out))
`;

test('docker-py runs, execs, stops and removes a container', async () => {
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('python3', ['-c', SCRIPT, d.host], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.equal(out.ping, true);
  assert.equal(out.run_output, 'hello from docker-py\n');
  assert.equal(out.status, 'running');
  assert.deepEqual(out.labels, { from: 'py' });
  assert.deepEqual(out.exec, [3, 'exec says hi\n']);
  assert.match(String(out.hostname), /^[0-9a-f]{12}$/);
  assert.deepEqual(out.listed, ['pyc']);
  assert.deepEqual(out.after_stop, ['exited', 137]);
  assert.deepEqual(out.after_remove, []);
  assert.equal(out.get_missing, 'NotFound');
});
