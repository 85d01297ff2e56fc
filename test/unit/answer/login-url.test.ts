import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loginUrl, originalUrl } from '../../../src/answer/login-url';
import { requestView, type ViewOptions } from '../support/request';

const BROWSER = 'https://auth.example.com';

function original(options: ViewOptions, allowedHosts: readonly string[] = []): string | undefined {
  return originalUrl(requestView(options), allowedHosts);
}

describe('originalUrl', () => {
  test('rebuilt from :scheme, :authority and :path, query included', () => {
    assert.equal(
      original({ scheme: 'https', authority: 'app.example.com', path: '/a/b?x=1&y=2' }),
      'https://app.example.com/a/b?x=1&y=2',
    );
  });

  test('keeps the port and the raw (undecoded) path', () => {
    assert.equal(
      original({ scheme: 'http', authority: 'app.example.com:8080', path: '/a%2Fb/../c' }),
      'http://app.example.com:8080/a%2Fb/../c',
    );
  });

  test('scheme is lower-cased', () => {
    assert.equal(original({ scheme: 'HTTPS', authority: 'app.example.com', path: '/' }), 'https://app.example.com/');
  });

  test('IPv6 and IPv4 authorities', () => {
    assert.equal(original({ authority: '[::1]:8443', path: '/x' }), 'https://[::1]:8443/x');
    assert.equal(original({ authority: '10.0.0.1', path: '/x' }), 'https://10.0.0.1/x');
  });

  // Found by test/fuzz/answers.test.ts: "/\u0000" came back out of return_to's decoding as a NUL.
  test('a path with a control character (CR, LF, NUL, DEL) has no return_to', () => {
    for (const path of ['/\u0000', '/a\r\nSet-Cookie: x=1', '/a\nb', '/a\tb', '/\u007f']) {
      assert.equal(original({ path }), undefined, JSON.stringify(path));
    }
    assert.equal(original({ path: '/a%0d%0ab' }), 'https://app.example.com/a%0d%0ab');
  });

  // Authorities that are not a plain host never reach this: the view refuses them (view.test.ts).
  const untrusted: ReadonlyArray<{ name: string; options: ViewOptions }> = [
    { name: 'javascript: scheme', options: { scheme: 'javascript', path: '/' } },
    { name: 'ftp scheme', options: { scheme: 'ftp', path: '/' } },
    { name: 'empty scheme', options: { scheme: '', path: '/' } },
    { name: 'path starting with "//" (protocol-relative)', options: { path: '//evil.com/x' } },
    { name: 'path not starting with "/"', options: { path: 'evil.com' } },
    { name: 'asterisk-form path', options: { path: '*' } },
    { name: 'empty path', options: { path: '' } },
  ];
  for (const { name, options } of untrusted) {
    test(`${name} → undefined`, () => {
      assert.equal(original({ scheme: 'https', authority: 'app.example.com', path: '/ok', ...options }), undefined);
    });
  }

  describe('return_to.allowed_hosts', () => {
    const allowed = ['app.example.com', '*.apps.example.com', 'admin.example.com:8443'];
    const cases: ReadonlyArray<{ authority: string; expected: boolean }> = [
      { authority: 'app.example.com', expected: true },
      { authority: 'APP.example.com', expected: true },
      { authority: 'app.example.com:8080', expected: true },
      { authority: 'one.apps.example.com', expected: true },
      { authority: 'apps.example.com', expected: false },
      { authority: 'admin.example.com:8443', expected: true },
      { authority: 'admin.example.com', expected: false },
      { authority: 'evil.com', expected: false },
      { authority: 'app.example.com.evil.com', expected: false },
    ];
    for (const { authority, expected } of cases) {
      test(`${authority} → ${expected ? 'kept' : 'undefined'}`, () => {
        assert.equal(original({ authority, path: '/p' }, allowed), expected ? `https://${authority}/p` : undefined);
      });
    }

    test('an empty list allows any host', () => {
      assert.equal(original({ authority: 'anything.test', path: '/p' }, []), 'https://anything.test/p');
    });
  });
});

describe('loginUrl', () => {
  const settings = { browserUrl: BROWSER, allowedHosts: [] };

  test('no return_to, no step-up: the bare browser login', () => {
    assert.equal(
      loginUrl(settings, { stepUp: false, returnTo: undefined }),
      'https://auth.example.com/self-service/login/browser',
    );
  });

  test('step-up asks for aal=aal2', () => {
    assert.equal(
      loginUrl(settings, { stepUp: true, returnTo: undefined }),
      'https://auth.example.com/self-service/login/browser?aal=aal2',
    );
  });

  test('return_to is percent-encoded as one query value', () => {
    const url = loginUrl(settings, { stepUp: false, returnTo: 'https://app.example.com/a b/c?x=1&y=%2F#f' });
    assert.equal(
      url,
      'https://auth.example.com/self-service/login/browser?return_to=https%3A%2F%2Fapp.example.com%2Fa%20b%2Fc%3Fx%3D1%26y%3D%252F%23f',
    );
    assert.equal(new URL(url).searchParams.get('return_to'), 'https://app.example.com/a b/c?x=1&y=%2F#f');
    assert.deepEqual([...new URL(url).searchParams.keys()], ['return_to']);
  });

  test('step-up and return_to together, aal first', () => {
    const url = new URL(loginUrl(settings, { stepUp: true, returnTo: 'https://app.example.com/x?a=1' }));
    assert.deepEqual(
      [...url.searchParams],
      [
        ['aal', 'aal2'],
        ['return_to', 'https://app.example.com/x?a=1'],
      ],
    );
  });

  test('browser URL with a base path', () => {
    assert.equal(
      loginUrl({ browserUrl: 'https://example.com/.ory', allowedHosts: [] }, { stepUp: false, returnTo: undefined }),
      'https://example.com/.ory/self-service/login/browser',
    );
  });

  test('empty return_to is left out', () => {
    assert.equal(
      loginUrl(settings, { stepUp: false, returnTo: '' }),
      'https://auth.example.com/self-service/login/browser',
    );
  });

  test('a lone surrogate in the path does not throw: return_to is dropped', () => {
    const returnTo = original({ path: '/a\ud800b' });
    assert.equal(returnTo, 'https://app.example.com/a\ud800b');
    assert.doesNotThrow(() => loginUrl(settings, { stepUp: true, returnTo }));
    assert.equal(
      loginUrl(settings, { stepUp: true, returnTo }),
      'https://auth.example.com/self-service/login/browser?aal=aal2',
    );
  });
});
