import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalisePath } from '../../../src/request/path';

describe('normalisePath', () => {
  const cases: ReadonlyArray<{ name: string; raw: string; expected: string }> = [
    { name: 'root', raw: '/', expected: '/' },
    { name: 'plain path', raw: '/a/b', expected: '/a/b' },
    { name: 'empty path', raw: '', expected: '/' },
    { name: 'query stripped', raw: '/a/b?x=1&y=/../c', expected: '/a/b' },
    { name: 'fragment stripped', raw: '/a/b#frag/../x', expected: '/a/b' },
    { name: 'fragment before "?"', raw: '/a#x?y', expected: '/a' },
    { name: 'query only', raw: '?x=1', expected: '/' },
    { name: 'encoded "?" is not a query', raw: '/a%3Fb', expected: '/a?b' },
    { name: '".." resolved', raw: '/public/../admin', expected: '/admin' },
    { name: '"." removed', raw: '/a/./b', expected: '/a/b' },
    { name: '".." above root stays at root', raw: '/../../admin', expected: '/admin' },
    { name: 'many ".." to root', raw: '/a/b/../../..', expected: '/' },
    { name: 'relative ".."', raw: '..', expected: '/' },
    { name: 'lone "."', raw: '/.', expected: '/' },
    { name: 'trailing ".." keeps a trailing slash (RFC 3986 remove_dot_segments)', raw: '/a/b/..', expected: '/a/' },
    { name: 'trailing "." keeps a trailing slash', raw: '/a/.', expected: '/a/' },
    { name: 'dots inside a segment are not dot-segments', raw: '/a/..b/.c/...', expected: '/a/..b/.c/...' },
    { name: '%2e%2e resolved', raw: '/public/%2e%2e/admin', expected: '/admin' },
    {
      name: '";" path parameters dropped: "..;" is ".." to servlet containers',
      raw: '/public/..;/admin',
      expected: '/admin',
    },
    { name: '";" parameter on a segment', raw: '/admin;jsessionid=1/secret', expected: '/admin/secret' },
    { name: 'encoded ";" is a parameter too once decoded', raw: '/public/..%3b/admin', expected: '/admin' },
    { name: '%2E%2e (mixed case) resolved', raw: '/public/%2E%2e/admin', expected: '/admin' },
    { name: '.%2e resolved', raw: '/public/.%2e/admin', expected: '/admin' },
    { name: '%2e alone removed', raw: '/a/%2e/b', expected: '/a/b' },
    { name: '%2f decoded to a separator', raw: '/a%2fb', expected: '/a/b' },
    { name: '%2F..%2F resolved', raw: '/public%2F..%2Fadmin', expected: '/admin' },
    { name: '%5c decoded to a separator', raw: '/public%5c..%5cadmin', expected: '/admin' },
    {
      name: 'double-encoded dots decoded once only, not resolved',
      raw: '/public/%252e%252e/admin',
      expected: '/public/%2e%2e/admin',
    },
    { name: 'double-encoded slash decoded once only', raw: '/a%252fb', expected: '/a%2fb' },
    { name: 'backslashes read as slashes', raw: '/public\\..\\admin', expected: '/admin' },
    { name: 'backslash root', raw: '\\admin', expected: '/admin' },
    { name: 'repeated slashes merged', raw: '//a///b', expected: '/a/b' },
    { name: 'trailing slash kept', raw: '/a/b/', expected: '/a/b/' },
    { name: 'repeated trailing slashes merged into one', raw: '/a/b//', expected: '/a/b/' },
    { name: 'root with extra slashes', raw: '///', expected: '/' },
    { name: 'other escapes decoded', raw: '/caf%C3%A9/%20x', expected: '/café/ x' },
    { name: 'invalid escape kept as text', raw: '/a%zz/b', expected: '/a%zz/b' },
    { name: 'truncated escape kept', raw: '/a%2', expected: '/a%2' },
    { name: 'lone percent kept', raw: '/%', expected: '/%' },
    // Overlong UTF-8 for "." must not become a dot-segment.
    {
      name: 'invalid UTF-8 %c0%ae%c0%ae is not ".."',
      raw: '/public/%c0%ae%c0%ae/admin',
      expected: '/public/\u00c0\u00ae\u00c0\u00ae/admin',
    },
    { name: 'invalid UTF-8 run still decodes %2e byte by byte', raw: '/a/%2e%2e%ff/b', expected: '/a/..\u00ff/b' },
    { name: 'invalid UTF-8 next to a real ".." run', raw: '/a/b/%2e%2e/%ff', expected: '/a/\u00ff' },
  ];
  for (const { name, raw, expected } of cases) {
    test(`${name}: ${JSON.stringify(raw)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normalisePath(raw), expected);
    });
  }

  test('never throws on malformed escapes', () => {
    for (const raw of ['/%c0%ae', '/%ff%fe%fd', '/%e2%82', '/%ed%a0%80', '/%', '/%%%', '/%g0', '/%0']) {
      assert.doesNotThrow(() => normalisePath(raw), raw);
      assert.ok(normalisePath(raw).startsWith('/'), raw);
    }
  });

  test('the result is always absolute and free of dot-segments and empty segments', () => {
    const inputs = ['/a/../../b/./c//d/', '\\..\\..\\etc/passwd', '/%2e%2e/%2e%2e/x', 'a/b', '/./././', '/x/%2e/'];
    for (const raw of inputs) {
      const path = normalisePath(raw);
      assert.ok(path.startsWith('/'), `${raw} → ${path}`);
      const segments = path.split('/').slice(1, path.endsWith('/') ? -1 : undefined);
      for (const segment of segments) {
        assert.ok(segment !== '' && segment !== '.' && segment !== '..', `${raw} → ${path}`);
      }
    }
  });
});
