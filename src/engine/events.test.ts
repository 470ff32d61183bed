import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EngineEvent, EventBus, eventMatches, parseEventTime } from './events';

const ev = (over: Partial<EngineEvent> & { attrs?: Record<string, string> }): EngineEvent => ({
  Type: over.Type ?? 'container', Action: over.Action ?? 'start',
  Actor: { ID: over.Actor?.ID ?? 'abc123', Attributes: over.attrs ?? { name: 'web', image: 'busybox:latest', tier: 'front' } },
  scope: 'local', time: 1, timeNano: 1e9,
});
const f = (o: Record<string, string[]>) => new Map(Object.entries(o));

describe('parseEventTime', () => {
  const now = Date.UTC(2026, 10, 27, 12, 0, 0);
  it('reads Unix seconds with a fraction, RFC 3339 and Go durations', () => {
    assert.equal(parseEventTime('1700000000'), 1700000000e9);
    assert.equal(parseEventTime('1700000000.5'), 1700000000e9 + 5e8);
    assert.equal(parseEventTime('2026-11-27T11:00:00Z', now), (now - 3600_000) * 1e6);
    assert.equal(parseEventTime('2026-11-27T12:00:00+01:00', now), (now - 3600_000) * 1e6);
    assert.equal(parseEventTime('10m', now), (now - 600_000) * 1e6);
    assert.equal(parseEventTime('1h30m', now), (now - 5400_000) * 1e6);
    assert.equal(parseEventTime(''), undefined);
    assert.throws(() => parseEventTime('yesterday'), /failed to parse value as time or duration: "yesterday"/);
  });
});

describe('eventMatches', () => {
  it('type, event and scope match exactly', () => {
    assert.ok(eventMatches(ev({}), f({ type: ['container'], event: ['start', 'die'] })));
    assert.ok(!eventMatches(ev({}), f({ event: ['stop'] })));
    assert.ok(!eventMatches(ev({}), f({ type: ['image'] })));
  });
  it('container matches id or name, by prefix', () => {
    assert.ok(eventMatches(ev({}), f({ container: ['web'] })));
    assert.ok(eventMatches(ev({}), f({ container: ['abc'] })));
    assert.ok(!eventMatches(ev({}), f({ container: ['db'] })));
    assert.ok(!eventMatches(ev({ Type: 'image', attrs: { name: 'busybox' } }), f({ container: ['web'] })));
  });
  it('image matches the container\'s image with or without tag, and image events by name', () => {
    assert.ok(eventMatches(ev({}), f({ image: ['busybox'] })));
    assert.ok(eventMatches(ev({}), f({ image: ['busybox:latest'] })));
    assert.ok(!eventMatches(ev({}), f({ image: ['alpine'] })));
    assert.ok(eventMatches(ev({ Type: 'image', Action: 'tag', attrs: { name: 'busybox:1' } }), f({ image: ['busybox'] })));
  });
  it('labels match key or key=value', () => {
    assert.ok(eventMatches(ev({}), f({ label: ['tier'] })));
    assert.ok(eventMatches(ev({}), f({ label: ['tier=front'] })));
    assert.ok(!eventMatches(ev({}), f({ label: ['tier=back'] })));
  });
  it('health_status matches by prefix', () => {
    assert.ok(eventMatches(ev({ Action: 'health_status: healthy' }), f({ event: ['health_status'] })));
  });
});

describe('EventBus', () => {
  it('replays the ring within since/until, keeps 256, orders strictly, and adds legacy fields', async () => {
    const bus = new EventBus();
    for (let i = 0; i < 300; i++) bus.emit('container', `a${i}`, 'id', { image: 'busybox' });
    const all = bus.past(undefined, Date.now() * 1e6 + 1e9);
    assert.equal(all.length, 256);
    assert.equal(all[0].Action, 'a44');
    for (let i = 1; i < all.length; i++) assert.ok(all[i].timeNano > all[i - 1].timeNano);
    assert.deepEqual(Object.keys(all[0]).slice(0, 4), ['status', 'id', 'from', 'Type']);
    const sub = bus.subscribe(all[250].timeNano, all[252].timeNano);
    const got = [await sub.next(), await sub.next(), await sub.next()].map((e) => e!.Action);
    assert.deepEqual(got, ['a294', 'a295', 'a296']);
    bus.emit('image', 'tag', 'sha256:x', { name: 'b:1' });
    assert.equal((await sub.next())!.Action, 'tag');
    sub.close();
    assert.equal(await sub.next(), null);
  });
});
