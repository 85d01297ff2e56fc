import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRequestView } from '../../../src/request/view';
import { headerBag, requestView } from '../support/request';

describe('buildRequestView', () => {
  const hosts: ReadonlyArray<{ authority: string; host: string }> = [
    { authority: 'app.example.com', host: 'app.example.com' },
    { authority: 'APP.Example.COM', host: 'app.example.com' },
    { authority: 'app.example.com:8443', host: 'app.example.com' },
    { authority: 'localhost', host: 'localhost' },
    { authority: 'my_service:8080', host: 'my_service' },
    { authority: '127.0.0.1:8080', host: '127.0.0.1' },
    { authority: '[::1]:8080', host: '[::1]' },
    { authority: '[::1]', host: '[::1]' },
    { authority: '[2001:DB8::1]:443', host: '[2001:db8::1]' },
    // Found by test/fuzz/readers.test.ts: the host is the one WHATWG URL reads.
    { authority: '[0:0::1]', host: '[::1]' },
    // Not IPv4 to any common parser: the unspecified address, and IPv6 that merely ends like one.
    { authority: '[::]', host: '[::]' },
    { authority: '[64:ff9b::a00:1]', host: '[64:ff9b::a00:1]' },
  ];
  for (const { authority, host } of hosts) {
    test(`host of ${JSON.stringify(authority)} is ${JSON.stringify(host)}, authority kept as received`, () => {
      const view = requestView({ authority });
      assert.equal(view.host, host);
      assert.equal(view.authority, authority);
    });
  }

  // Each of these misses a rule for admin.example.com as a string, while Node's req.hostname
  // (and other upstreams) read admin.example.com: they are refused before any rule runs.
  const notPlain = [
    'admin.example.com:abc',
    'admin.example.com:80.',
    'admin.example.com:1:2',
    'x@admin.example.com',
    'admin.example.com..',
    'admin.example.com:x@y.public.example.com',
    'admin.example.com:',
    'admin.example.com:123456',
    '.admin.example.com',
    'admin..example.com',
    'admin.example.com/x',
    'admin.example.com\\x',
    'admin example.com',
    '[::1',
    '[::1]x',
    '',
    // Found by test/fuzz/readers.test.ts: WHATWG URL reads these as other IPv4 addresses
    // (2130706433 and 0x7f.1 are 127.0.0.1, 1.2 is 1.0.0.2, 01.2.3.4 is octal) or refuses them.
    '2130706433',
    '0x7f.1',
    '1.2',
    '01.2.3.4',
    '256.1.1.1',
    'a.1',
    'app.0x1',
    '[1.2.3.4]',
    // A trailing dot: nginx's $host and Envoy's strip_trailing_host_dot drop it, Caddy's host
    // matcher keeps it and routed `admin.example.com.` to its catch-all site (issue 18).
    'app.example.com.',
    'App.Example.com.:443',
    '1.2.3.4.:80',
    // IPv4 addresses spelt as IPv6 (mapped and compatible): Go's net.ParseIP reads 10.0.0.1 in
    // each, which a host rule for 10.0.0.1 would miss as a name (issue 18, finding 8).
    '[::ffff:10.0.0.1]',
    '[::FFFF:a00:1]:443',
    '[0:0:0:0:0:ffff:0a00:0001]',
    '[::10.0.0.1]',
    '[::a00:1]',
  ];
  for (const authority of notPlain) {
    test(`authority ${JSON.stringify(authority)} is not a plain host[:port]: refused`, () => {
      const built = buildRequestView({ method: 'GET', scheme: 'https', authority, path: '/' }, headerBag(), {});
      assert.deepEqual(built, { ok: false, detail: 'the authority is not a plain host[:port]' });
    });
  }

  test('method kept exactly as received; a method that is not upper-case is refused (methods are case-sensitive)', () => {
    assert.equal(requestView({ method: 'PATCH' }).method, 'PATCH');
    assert.deepEqual(
      buildRequestView({ method: 'get', scheme: 'https', authority: 'app.example.com', path: '/' }, headerBag(), {}),
      { ok: false, detail: 'the method is not upper-case' },
    );
  });

  test('path kept raw; its readings are as sent, WHATWG and normalised', () => {
    const view = requestView({ path: '/public/..;/admin/%2e%2e/x?y' });
    assert.equal(view.path, '/public/..;/admin/%2e%2e/x?y');
    assert.deepEqual(view.pathReadings, ['/public/..;/admin/%2e%2e/x', '/public/..;/x', '/x']);
  });

  test('a plain path has one reading', () => {
    assert.deepEqual(requestView({ path: '/api/v1/users?x=/../y' }).pathReadings, ['/api/v1/users']);
  });

  test('scheme passed through', () => {
    assert.equal(requestView({ scheme: 'http' }).scheme, 'http');
  });

  test('requestId from x-request-id (any case), undefined without it', () => {
    assert.equal(requestView({ headers: [['X-Request-Id', 'req-1']] }).requestId, 'req-1');
    assert.equal(requestView().requestId, undefined);
  });

  test('headers and context extensions are the ones given', () => {
    const headers = headerBag([['accept', 'text/html']]);
    const contextExtensions = { policy: 'admin' };
    const built = buildRequestView(
      { method: 'GET', scheme: 'https', authority: 'a', path: '/' },
      headers,
      contextExtensions,
    );
    assert.ok(built.ok);
    assert.equal(built.view.headers, headers);
    assert.deepEqual(built.view.contextExtensions, { policy: 'admin' });
  });
});

describe('methodReadings', () => {
  test('the method first, then each distinct override upper-cased', () => {
    assert.deepEqual(
      requestView({
        method: 'POST',
        path: '/x?_method=put',
        headers: [
          ['x-http-method-override', 'delete, PATCH'],
          ['x-http-method', 'DELETE'],
        ],
      }).methodReadings,
      ['POST', 'DELETE', 'PATCH', 'PUT'],
    );
    assert.deepEqual(requestView({ method: 'GET', path: '/x' }).methodReadings, ['GET']);
  });

  test('more than 16 distinct methods make the request unreadable (400), bounding the matching work', () => {
    const many = Array.from({ length: 16 }, (_, index) => `M${index}`).join(',');
    const built = buildRequestView(
      { method: 'POST', scheme: 'https', authority: 'a.example', path: '/' },
      headerBag([['x-http-method-override', many]]),
      {},
    );
    assert.equal(built.ok, false);
  });
});
