import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRequestView } from '../../src/request/view';
import { headerBag, requestView } from './support/request';

describe('buildRequestView', () => {
  const hosts: ReadonlyArray<{ authority: string; host: string }> = [
    { authority: 'app.example.com', host: 'app.example.com' },
    { authority: 'APP.Example.COM', host: 'app.example.com' },
    { authority: 'app.example.com:8443', host: 'app.example.com' },
    { authority: 'app.example.com.', host: 'app.example.com' },
    { authority: 'App.Example.com.:443', host: 'app.example.com' },
    { authority: 'app.example.com:', host: 'app.example.com' },
    { authority: '127.0.0.1:8080', host: '127.0.0.1' },
    { authority: '[::1]:8080', host: '[::1]' },
    { authority: '[::1]', host: '[::1]' },
    { authority: '[2001:DB8::1]:443', host: '[2001:db8::1]' },
    { authority: '', host: '' },
  ];
  for (const { authority, host } of hosts) {
    test(`host of ${JSON.stringify(authority)} is ${JSON.stringify(host)}, authority kept as received`, () => {
      const view = requestView({ authority });
      assert.equal(view.host, host);
      assert.equal(view.authority, authority);
    });
  }

  test('method kept exactly as received (methods are case-sensitive; the Envoy adapter refuses lower-case ones)', () => {
    assert.equal(requestView({ method: 'GET' }).method, 'GET');
    assert.equal(requestView({ method: 'get' }).method, 'get');
  });

  test('literalPath resolves dot segments without decoding or dropping parameters', () => {
    const view = requestView({ path: '/public/..;/admin/%2e%2e/x?y' });
    assert.equal(view.literalPath, '/public/..;/admin/%2e%2e/x');
    assert.equal(view.normalisedPath, '/x');
  });

  test('path kept raw, normalisedPath decoded and resolved', () => {
    const view = requestView({ path: '/public/%2e%2e/admin?x=1' });
    assert.equal(view.path, '/public/%2e%2e/admin?x=1');
    assert.equal(view.normalisedPath, '/admin');
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
    const view = buildRequestView({ method: 'GET', scheme: 'https', authority: 'a', path: '/' }, headers, contextExtensions);
    assert.equal(view.headers, headers);
    assert.deepEqual(view.contextExtensions, { policy: 'admin' });
  });
});
