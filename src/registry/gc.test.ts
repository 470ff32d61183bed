import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { collectGarbage, UPLOAD_MAX_IDLE_MS } from './gc';
import { RegistryStorage } from './storage';

const dir = fs.mkdtempSync(join(os.tmpdir(), 'berth-registry-gc-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('gc removes uploads idle for a day and keeps fresher ones', async () => {
  const store = new RegistryStorage(join(dir, 'root'));
  const old = store.startUpload('a/b');
  await store.append(old, Readable.from([Buffer.from('some bytes')]));
  const fresh = store.startUpload('a/b');
  const now = Date.now() + UPLOAD_MAX_IDLE_MS + 60_000;
  // The fresh one was written "just now" as far as this run is concerned.
  const later = new Date(now - 1000);
  fs.utimesSync(join(store.root, 'uploads', fresh.id, 'data'), later, later);

  const dry = collectGarbage(store, { dryRun: true, now });
  assert.deepEqual(dry.uploads, [old.id]);
  assert.ok(fs.existsSync(join(store.root, 'uploads', old.id)), 'a dry run removes nothing');

  const real = collectGarbage(store, { now });
  assert.deepEqual(real.uploads, [old.id]);
  assert.throws(() => store.upload('a/b', old.id), /unknown/);
  assert.equal(store.upload('a/b', fresh.id).size, 0);
});
