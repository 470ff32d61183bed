import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ReferenceError as RefError,
  familiarName,
  familiarRepository,
  fullName,
  isValidTag,
  parseReference,
  repositoryName,
  withDefaultTag,
} from './reference';

const HEX = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const DIGEST = `sha256:${HEX}`;

/** Asserts that parsing fails with a ReferenceError carrying exactly `message`. */
const rejects = (s: string, message: string) =>
  assert.throws(() => parseReference(s), (e: unknown) => {
    assert.ok(e instanceof RefError, `expected a ReferenceError for ${JSON.stringify(s)}`);
    assert.equal(e.message, message, `message for ${JSON.stringify(s)}`);
    return true;
  });

describe('parseReference: normalisation', () => {
  it('expands an official image name to docker.io/library', () => {
    const r = parseReference('busybox');
    assert.deepEqual(r, { domain: 'docker.io', path: 'library/busybox' });
    assert.equal(fullName(r), 'docker.io/library/busybox');
    assert.equal(repositoryName(r), 'docker.io/library/busybox');
  });

  it('withDefaultTag adds :latest only when there is neither tag nor digest', () => {
    assert.equal(fullName(withDefaultTag(parseReference('busybox'))), 'docker.io/library/busybox:latest');
    assert.equal(fullName(withDefaultTag(parseReference('busybox:1.36'))), 'docker.io/library/busybox:1.36');
    const pinned = parseReference(`busybox@${DIGEST}`);
    assert.equal(withDefaultTag(pinned).tag, undefined);
    assert.equal(fullName(withDefaultTag(pinned)), `docker.io/library/busybox@${DIGEST}`);
  });

  it('keeps a user namespace on Docker Hub without adding library/', () => {
    assert.deepEqual(parseReference('bitnami/redis:7'), { domain: 'docker.io', path: 'bitnami/redis', tag: '7' });
  });

  it('parses a registry with a port, a nested path and a tag', () => {
    const r = parseReference('localhost:5000/a/b:1');
    assert.deepEqual(r, { domain: 'localhost:5000', path: 'a/b', tag: '1' });
    assert.equal(fullName(r), 'localhost:5000/a/b:1');
  });

  it('treats the colon of a registry port as a port, not a tag', () => {
    assert.deepEqual(parseReference('host:5000/x'), { domain: 'host:5000', path: 'x' });
    assert.deepEqual(parseReference('host:5000/x:v2'), { domain: 'host:5000', path: 'x', tag: 'v2' });
  });

  it('recognises localhost alone as a registry, and a bare "localhost" as an image', () => {
    assert.deepEqual(parseReference('localhost/app'), { domain: 'localhost', path: 'app' });
    assert.deepEqual(parseReference('localhost'), { domain: 'docker.io', path: 'library/localhost' });
  });

  it('maps the legacy index.docker.io to docker.io (and adds library/)', () => {
    assert.deepEqual(parseReference('index.docker.io/x'), { domain: 'docker.io', path: 'library/x' });
    assert.deepEqual(parseReference('index.docker.io/me/x:1'), { domain: 'docker.io', path: 'me/x', tag: '1' });
    assert.deepEqual(parseReference('docker.io/busybox'), { domain: 'docker.io', path: 'library/busybox' });
  });

  it('parses a digest reference on another registry', () => {
    const r = parseReference(`example.com/ns/img@${DIGEST}`);
    assert.deepEqual(r, { domain: 'example.com', path: 'ns/img', digest: DIGEST });
    assert.equal(fullName(r), `example.com/ns/img@${DIGEST}`);
  });

  it('keeps both tag and digest when both are given', () => {
    const r = parseReference(`busybox:1.36@${DIGEST}`);
    assert.deepEqual(r, { domain: 'docker.io', path: 'library/busybox', tag: '1.36', digest: DIGEST });
    assert.equal(fullName(r), `docker.io/library/busybox:1.36@${DIGEST}`);
    assert.equal(familiarName(r), `busybox:1.36@${DIGEST}`);
  });

  it('treats a first component with uppercase letters as a domain', () => {
    assert.deepEqual(parseReference('Foo.com/x'), { domain: 'Foo.com', path: 'x' });
    assert.deepEqual(parseReference('Foo/bar'), { domain: 'Foo', path: 'bar' });
    assert.equal(familiarName(parseReference('Foo.com/x:1')), 'Foo.com/x:1');
  });

  it('accepts separators allowed inside path components', () => {
    assert.equal(parseReference('my-org/my_app.v2__x').path, 'my-org/my_app.v2__x');
    assert.equal(parseReference('a--b').path, 'library/a--b');
  });

  it('accepts IPv6 registry hosts', () => {
    assert.deepEqual(parseReference('[::1]:5000/img:t'), { domain: '[::1]:5000', path: 'img', tag: 't' });
  });
});

describe('parseReference: errors with Docker\'s messages', () => {
  it('rejects uppercase repository names, naming the normalised path', () => {
    rejects('Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase');
    rejects('Busybox:latest', 'invalid reference format: repository name (library/Busybox) must be lowercase');
    rejects('example.com/Ns/img', 'invalid reference format: repository name (Ns/img) must be lowercase');
  });

  it('rejects a bare 64-hex string (it looks like an image id)', () => {
    rejects(HEX, `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings`);
  });

  it('accepts a 64-hex repository name once it carries a tag', () => {
    assert.deepEqual(parseReference(`${HEX}:v1`), { domain: 'docker.io', path: `library/${HEX}`, tag: 'v1' });
  });

  it('rejects invalid tags', () => {
    rejects('busybox:', 'invalid reference format');
    rejects('busybox:-x', 'invalid reference format');
    rejects('busybox:.x', 'invalid reference format');
    rejects('busybox:a b', 'invalid reference format');
    rejects(`busybox:${'a'.repeat(129)}`, 'invalid reference format');
    assert.equal(parseReference(`busybox:${'a'.repeat(128)}`).tag, 'a'.repeat(128));
  });

  it('rejects malformed names and digests', () => {
    rejects('', 'invalid reference format');
    rejects(':latest', 'invalid reference format');
    rejects('a//b', 'invalid reference format');
    rejects('a/', 'invalid reference format');
    rejects('-abc', 'invalid reference format');
    rejects('abc-', 'invalid reference format');
    rejects('a b', 'invalid reference format');
    rejects('busybox@', 'invalid reference format');
    rejects('busybox@sha256:short', 'invalid reference format');
    rejects('busybox:latest:extra', 'invalid reference format');
    rejects('bad_domain.com/x', 'invalid reference format');
  });

  it('rejects names longer than 255 characters', () => {
    assert.throws(() => parseReference(`example.com/${'a'.repeat(250)}`), /must not be more than 255 characters/);
    assert.doesNotThrow(() => parseReference(`example.com/${'a'.repeat(243)}`)); // exactly 255
  });
});

describe('familiarName', () => {
  it('drops docker.io/library only for official images', () => {
    assert.equal(familiarName(withDefaultTag(parseReference('busybox'))), 'busybox:latest');
    assert.equal(familiarName(parseReference('docker.io/library/busybox')), 'busybox');
    assert.equal(familiarName(parseReference('docker.io/bitnami/redis:7')), 'bitnami/redis:7');
    // library/<a>/<b> is not an official image: only the domain goes.
    assert.equal(familiarName(parseReference('docker.io/library/a/b')), 'library/a/b');
  });

  it('keeps other registries whole', () => {
    assert.equal(familiarName(parseReference('localhost:5000/a/b:1')), 'localhost:5000/a/b:1');
    assert.equal(familiarName(parseReference('quay.io/library/busybox')), 'quay.io/library/busybox');
    assert.equal(familiarName(parseReference(`example.com/ns/img@${DIGEST}`)), `example.com/ns/img@${DIGEST}`);
  });

  it('familiarRepository omits tag and digest', () => {
    assert.equal(familiarRepository(parseReference(`busybox:1@${DIGEST}`)), 'busybox');
    assert.equal(familiarRepository(parseReference('ghcr.io/o/r:tag')), 'ghcr.io/o/r');
  });

  it('round-trips: parsing a familiar name gives the same reference', () => {
    for (const s of ['busybox:latest', 'me/app:1.0', 'localhost:5000/a/b:1', `ghcr.io/o/r@${DIGEST}`]) {
      const r = parseReference(s);
      assert.equal(familiarName(r), s);
      assert.deepEqual(parseReference(familiarName(r)), r);
    }
  });
});

describe('isValidTag', () => {
  it('follows the tag grammar [\\w][\\w.-]{0,127}', () => {
    assert.equal(isValidTag('latest'), true);
    assert.equal(isValidTag('1.36.1-musl_x'), true);
    assert.equal(isValidTag('_x'), true);
    assert.equal(isValidTag('UPPER'), true);
    assert.equal(isValidTag(''), false);
    assert.equal(isValidTag('.x'), false);
    assert.equal(isValidTag('-x'), false);
    assert.equal(isValidTag('a/b'), false);
    assert.equal(isValidTag('a'.repeat(129)), false);
  });
});
