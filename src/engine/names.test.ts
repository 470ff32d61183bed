import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../errors';
import { generateName, newId, shortId, validateName } from './names';

describe('newId', () => {
  it('is 64 lowercase hex digits whose 12-character prefix is never all digits', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = newId();
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.doesNotMatch(id.slice(0, 12), /^\d+$/, id);
      seen.add(id);
    }
    assert.equal(seen.size, 2000);
  });

  it('shortId is the first 12 characters', () => {
    const id = newId();
    assert.equal(shortId(id), id.slice(0, 12));
    assert.equal(shortId(id).length, 12);
  });
});

describe('generateName', () => {
  const FORMAT = /^[a-z]+_[a-z]+\d?$/;

  it('makes adjective_surname names', () => {
    for (let i = 0; i < 500; i++) {
      const name = generateName(() => false);
      assert.match(name, /^[a-z]+_[a-z]+$/);
      validateName(name); // a generated name is always a valid name
    }
  });

  it('produces varied names', () => {
    const names = new Set(Array.from({ length: 200 }, () => generateName(() => false)));
    assert.ok(names.size > 100, `only ${names.size} distinct names`);
  });

  it('never returns a taken name', () => {
    const taken = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const name = generateName((n) => taken.has(n));
      assert.equal(taken.has(name), false);
      taken.add(name);
    }
  });

  it('retries after collisions and asks about each candidate', () => {
    let asked = 0;
    const candidates: string[] = [];
    const name = generateName((n) => {
      candidates.push(n);
      return ++asked <= 3;
    });
    assert.equal(asked, 4);
    assert.equal(candidates[3], name);
    assert.match(name, /^[a-z]+_[a-z]+$/);
  });

  it('adds a digit suffix after ten collisions', () => {
    let asked = 0;
    const name = generateName(() => ++asked <= 10);
    assert.equal(asked, 11);
    assert.match(name, FORMAT);
    assert.match(name, /\d$/);
  });

  it('keeps going until a free suffixed name is found', () => {
    let asked = 0;
    const name = generateName(() => ++asked <= 25);
    assert.equal(asked, 26);
    assert.match(name, /^[a-z]+_[a-z]+\d$/);
  });
});

describe('validateName', () => {
  const rejects = (name: string) =>
    assert.throws(
      () => validateName(name),
      (e: unknown) =>
        e instanceof BerthError && e.kind === 'invalid' && e.message === `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      name,
    );

  it('accepts Docker-valid names and strips one leading slash', () => {
    assert.equal(validateName('/web-1'), 'web-1');
    assert.equal(validateName('web-1'), 'web-1');
    assert.equal(validateName('My_App.v2'), 'My_App.v2');
    assert.equal(validateName('0x'), '0x');
    assert.equal(validateName('ab'), 'ab');
  });

  it('rejects single characters, bad first characters and bad characters with Docker\'s message', () => {
    rejects('a');
    rejects('/a');
    rejects('-x');
    rejects('_x');
    rejects('.x');
    rejects('x y');
    rejects('a/b');
    rejects('name!');
    rejects('');
    rejects('//ab');
    rejects('ünï');
  });
});
