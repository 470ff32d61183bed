/**
 * Image history and image prune through the docker CLI (issue 6's first local parts): history
 * lists the config's entries newest first with their layers' sizes; prune takes dangling images,
 * or every unused one with -a, and never an image a container uses.
 */
import assert from 'node:assert/strict';
import { Daemon, useDaemon } from './harness';

let d: Daemon;
const test = useDaemon({ busybox: true }, (daemon) => (d = daemon));

const ok = (args: string[]) => d.dockerOk(args);

test('docker history: newest first, the top entry with its id, the layers with their sizes', async () => {
  await ok(['run', '--name', 'hc', 'busybox', 'sh', '-c', 'head -c 5000 /dev/zero > /blob']);
  const id = (await ok(['commit', '-m', 'added a blob', 'hc', 'hist:two'])).trim();
  await ok(['rm', 'hc']);
  const rows = (await ok(['history', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}', 'hist:two'])).trim().split('\n');
  assert.equal(rows.length, 2);
  assert.equal(rows[0], `${id.slice(7, 19)}|sh -c head -c 5000 /dev/zero > /blob|5kB|added a blob`);
  assert.match(rows[1]!, /^<missing>\|\|1\.9\dMB\|Imported from -$/);
  assert.equal(await ok(['history', '-q', '--no-trunc', 'hist:two']), `${id}\n<missing>\n`);
  const missing = await d.docker(['history', 'nosuch']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such image: nosuch/);
});

test('docker image prune: dangling ones only, then with -a every image no container uses', async () => {
  await ok(['run', '--name', 'pd', 'busybox', 'sh', '-c', 'echo z > /z']);
  const dangling = (await ok(['commit', 'pd'])).trim();
  await ok(['rm', 'pd']);
  await ok(['run', '--name', 'pt', 'busybox', 'sh', '-c', 'echo t > /t']);
  const tagged = (await ok(['commit', 'pt', 'unused:1'])).trim();
  await ok(['rm', 'pt']);
  const out = await ok(['image', 'prune', '-f']);
  assert.match(out, new RegExp(`^Deleted Images:\\ndeleted: ${dangling}\\n\\nTotal reclaimed space: `));
  // With -a: every image without a container; busybox (and its other tag) stays while a container stands on it.
  await ok(['tag', 'busybox', 'spare:1']);
  await ok(['create', '--name', 'holder', 'busybox', 'true']);
  const all = await ok(['image', 'prune', '-af']);
  assert.match(all, new RegExp(`untagged: unused:1\\ndeleted: ${tagged}\\n`));
  assert.doesNotMatch(all, /busybox|spare/);
  assert.deepEqual((await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).trim().split('\n').sort(), ['busybox:latest', 'spare:1']);
  await ok(['rm', 'holder']);
});

test('the berth CLI: history, system df and image prune against berthd', async () => {
  const h = await d.berth(['history', '--format', '{{.ID}} {{.Size}}', 'busybox']);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^[0-9a-f]{12} 1\.9\dMB\n$/);
  const df = await d.berth(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
  assert.equal(df.code, 0, df.stderr);
  assert.match(df.stdout, /^Images \d+\nContainers \d+\nLocal Volumes \d+\nBuild Cache 0\n$/);
  await d.dockerOk(['tag', 'busybox', 'extra:1']);
  const pruned = await d.berth(['image', 'prune', '-f']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.equal(pruned.stdout, 'Total reclaimed space: 0B\n', 'nothing dangling');
  assert.match((await d.berth(['images', '--format', '{{.Repository}}'])).stdout, /extra/);
});
