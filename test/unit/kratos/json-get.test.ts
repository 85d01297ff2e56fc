/** The miss path's transport against a plain node:http server: what it sends, what it refuses. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { JsonGet } from '../../../src/kratos/json-get';

let server: http.Server;
let base: string;
const seen: Array<{ url: string | undefined; headers: http.IncomingHttpHeaders }> = [];
let reply: (res: http.ServerResponse) => void = (res) => res.end('{}');

before(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    reply(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('JsonGet', () => {
  test("keeps the base URL's path and sends the given headers", async () => {
    const api = new JsonGet(`${base}/kratos/`);
    reply = (res) => res.end('{"ok":true}');
    assert.deepEqual(await api.get('/sessions/whoami', { 'x-session-token': 't' }, 1000), {
      status: 200,
      body: { ok: true },
      setCookie: [],
    });
    assert.equal(seen.at(-1)?.url, '/kratos/sessions/whoami');
    assert.equal(seen.at(-1)?.headers['x-session-token'], 't');
    await api.close();
  });

  test('Set-Cookie lines come back one entry per line, never joined (an Expires holds a comma)', async () => {
    const api = new JsonGet(base);
    const lines = ['a=1; Path=/; Expires=Wed, 02 Dec 2026 11:40:58 GMT', 'b=2'];
    reply = (res) => {
      res.setHeader('set-cookie', lines);
      res.end('{}');
    };
    assert.deepEqual(await api.get('/x', {}, 1000), { status: 200, body: {}, setCookie: lines });
    reply = (res) => {
      res.setHeader('set-cookie', 'only=1');
      res.end('{}');
    };
    assert.deepEqual(await api.get('/x', {}, 1000), { status: 200, body: {}, setCookie: ['only=1'] });
    await api.close();
  });

  test('a body that is not JSON is undefined, with its status', async () => {
    const api = new JsonGet(base);
    reply = (res) => {
      res.statusCode = 502;
      res.end('<html>bad gateway</html>');
    };
    assert.deepEqual(await api.get('/x', {}, 1000), { status: 502, body: undefined, setCookie: [] });
    await api.close();
  });

  test('a body over 1 MiB is a failure, not read into memory', async () => {
    const api = new JsonGet(base);
    reply = (res) => res.end(`"${'a'.repeat(1024 * 1024 + 10)}"`);
    assert.deepEqual(await api.get('/x', {}, 5000), { failure: 'oversized' });
    await api.close();
  });

  test('no answer within the budget is a timeout', async () => {
    const api = new JsonGet(base);
    reply = () => {};
    const started = Date.now();
    assert.deepEqual(await api.get('/x', {}, 100), { failure: 'timeout' });
    assert.ok(Date.now() - started < 1000);
    await api.close();
  });

  test('a refused connection is named', async () => {
    const api = new JsonGet('http://127.0.0.1:1');
    assert.deepEqual(await api.get('/x', {}, 1000), { failure: 'econnrefused' });
    await api.close();
  });
});
