/** The HTTP front doors' own defences: trusted proxies, sizes, slow clients, malformed descriptions. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from '../support/harness';
import { AuthzHttpClient, callFor, HTTP_DOORS, type HttpAnswer, type HttpCall } from '../support/http-client';

/** Writes `chunks` to the listener (pausing `gapMs` between them), then reads until it closes. */
function rawExchange(
  port: number,
  chunks: readonly string[],
  gapMs = 0,
): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (gapMs > 0) await new Promise((done) => setTimeout(done, gapMs));
      }
    });
  });
}

function errorIdOf(answer: HttpAnswer): string {
  return (JSON.parse(answer.body) as { error: { id: string } }).error.id;
}

function jsonOfRaw(text: string): { status: number; id: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1]);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status, id: (JSON.parse(body) as { error: { id: string } }).error.id };
}

describe('a peer outside http_authz.trusted_proxies', () => {
  let h: Harness;
  before(async () => {
    // Tests run on loopback, which the defaults trust: leave it out.
    h = await startHarness({ config: { http_authz: { trusted_proxies: ['10.0.0.0/8', 'fc00::/7'] } } });
  });
  after(() => h.close());

  for (const door of HTTP_DOORS) {
    test(`${door}: 403 untrusted_proxy JSON, never decided (Kratos is not asked)`, async () => {
      const session = h.newSession(h.emulator.addIdentity());
      h.emulator.clearRequests();
      const answer = await h.http?.check(door, { headers: { 'x-session-token': session.token } });
      assert.equal(answer?.status, 403);
      assert.equal(answer.headers['content-type'], 'application/json');
      assert.equal(errorIdOf(answer), 'untrusted_proxy');
      assert.equal(answer.headers['x-kratos-identity-id'], undefined);
      assert.deepEqual(
        h.emulator.requests.filter((request) => request.endpoint === 'whoami'),
        [],
      );
      const line = h.logs.filter((entry) => entry.msg === 'check').at(-1);
      assert.equal(line?.reason, 'untrusted_proxy');
      assert.equal(line?.front_door, door);
    });
  }

  test('the gRPC door is not affected (Envoy is trusted by the network, not by headers)', async () => {
    const session = h.newSession(h.emulator.addIdentity());
    const response = await h.client.check({ headers: { 'x-session-token': session.token } });
    assert.equal(response.status?.code, 0);
  });
});

describe('a trusted peer named by its bare address', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { http_authz: { trusted_proxies: ['127.0.0.1'] } } });
  });
  after(() => h.close());

  test('is believed', async () => {
    const session = h.newSession(h.emulator.addIdentity());
    const answer = await h.http?.check('forward_auth', { headers: { 'x-session-token': session.token } });
    assert.equal(answer?.status, 200);
    assert.equal(answer.headers['x-kratos-session-id'], session.id);
  });
});

describe('limits, slow clients and malformed calls', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await startHarness({ config: { http_authz: { request_timeout: '1s' } } });
    assert.ok(h.service.httpAuthzPort);
    port = h.service.httpAuthzPort;
  });
  after(() => h.close());

  const send = (call: HttpCall) => {
    assert.ok(h.http);
    return h.http.send(call);
  };

  test('headers over 64 KiB → 431 JSON and the connection closes', async () => {
    const cookie = h.remember(`ory_kratos_session=${'a'.repeat(70 * 1024)}`);
    const { text } = await rawExchange(port, [`GET /forward-auth HTTP/1.1\r\nHost: a\r\nCookie: ${cookie}\r\n\r\n`]);
    assert.deepEqual(jsonOfRaw(text), { status: 431, id: 'request_too_large' });
    assert.match(text, /\r\nconnection: close\r\n/i);
    const metrics = await (await fetch(`http://127.0.0.1:${h.service.httpPort}/metrics`)).text();
    assert.match(metrics, /^kratos_ext_authz_http_client_errors_total\{status="431"\} 1$/m);
  });

  test('a cookie just under the limit is still decided', async () => {
    const answer = await send(
      callFor('forward_auth', {
        headers: { accept: 'application/json', cookie: h.remember(`ory_kratos_session=${'b'.repeat(60 * 1024)}`) },
      }),
    );
    // Longer than any Kratos credential: unauthenticated without asking Kratos.
    assert.equal(answer.status, 401);
  });

  test('a malformed request line → 400 JSON', async () => {
    const { text } = await rawExchange(port, ['GET /forward-auth HTTP/1.1 extra\r\n\r\n']);
    assert.deepEqual(jsonOfRaw(text), { status: 400, id: 'bad_request' });
  });

  test('headers that trickle in past http_authz.request_timeout → 408 JSON, closed', async () => {
    const lines = [
      'GET /forward-auth HTTP/1.1\r\n',
      'Host: a\r\n',
      'X-Forwarded-Method: GET\r\n',
      'X-Forwarded-Host: app.example.com\r\n',
      'X-Forwarded-Uri: /\r\n',
      'Accept: */*\r\n',
    ];
    const { text, closedAfterMs } = await rawExchange(port, lines, 400);
    assert.deepEqual(jsonOfRaw(text), { status: 408, id: 'request_timeout' });
    assert.ok(closedAfterMs < 4_000, `closed after ${closedAfterMs} ms`);
  });

  test('a body that never finishes is cut at the timeout, not decided', async () => {
    h.emulator.clearRequests();
    const head = `POST /ext-authz/upload HTTP/1.1\r\nHost: app.example.com\r\nX-Session-Token: ${h.remember('ory_st_slowbodyslowbodyslowbody00000')}\r\nContent-Length: 100\r\n\r\n`;
    const { text, closedAfterMs } = await rawExchange(port, [head, 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'], 400);
    assert.ok(closedAfterMs < 5_000, `closed after ${closedAfterMs} ms`);
    assert.deepEqual(jsonOfRaw(text), { status: 408, id: 'request_timeout' });
    assert.deepEqual(
      h.emulator.requests.filter((request) => request.endpoint === 'whoami'),
      [],
    );
  });

  test('a body over 64 KiB → 413 request_too_large, connection: close', async () => {
    const body = 'x'.repeat(65 * 1024 + 1);
    const head = `POST /ext-authz/upload HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { text } = await rawExchange(port, [head, body]);
    assert.deepEqual(jsonOfRaw(text), { status: 413, id: 'request_too_large' });
    assert.match(text, /\r\nconnection: close\r\n/i);
  });

  test('a small body (Envoy with_request_body) is read and ignored', async () => {
    const session = h.newSession(h.emulator.addIdentity());
    const head = `POST /ext-authz/form HTTP/1.1\r\nHost: app.example.com\r\nX-Session-Token: ${session.token}\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`;
    const { text } = await rawExchange(port, [head, 'a=b&c']);
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, new RegExp(`\\r\\nx-kratos-session-id: ${session.id}\\r\\n`, 'i'));
  });

  test('keep-alive: calls on one connection are answered one each, in order', async () => {
    const session = h.newSession(h.emulator.addIdentity());
    const call = (uri: string, extra: string) =>
      `GET /forward-auth HTTP/1.1\r\nHost: a\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Host: app.example.com\r\nX-Forwarded-Uri: ${uri}\r\nAccept: application/json\r\n${extra}\r\n`;
    const token = `X-Session-Token: ${session.token}\r\n`;
    const { text } = await rawExchange(port, [
      call('/a', token) + call('/b', '') + call('/c', `${token}Connection: close\r\n`),
    ]);
    assert.deepEqual(
      [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]),
      ['200', '401', '200'],
    );
  });

  test('an unknown path → 404 JSON, not a check', async () => {
    const from = h.logs.length;
    const answer = await send({ method: 'GET', path: '/forward-auth/x', headers: [['host', 'a']] });
    assert.equal(answer.status, 404);
    assert.equal(errorIdOf(answer), 'not_found');
    assert.deepEqual(
      h.logs.slice(from).filter((line) => line.msg === 'check'),
      [],
    );
  });

  const malformed: ReadonlyArray<{ name: string; call: HttpCall }> = [
    {
      name: 'forward-auth without X-Forwarded-Host',
      call: {
        method: 'GET',
        path: '/forward-auth',
        headers: [
          ['host', 'app.example.com'],
          ['x-forwarded-method', 'GET'],
          ['x-forwarded-uri', '/'],
        ],
      },
    },
    {
      name: 'forward-auth without X-Forwarded-Method',
      call: {
        method: 'GET',
        path: '/forward-auth',
        headers: [
          ['host', 'a'],
          ['x-forwarded-host', 'app.example.com'],
          ['x-forwarded-uri', '/'],
        ],
      },
    },
    {
      name: 'two X-Forwarded-Host lines',
      call: {
        method: 'GET',
        path: '/forward-auth',
        headers: [
          ['host', 'a'],
          ['x-forwarded-method', 'GET'],
          ['x-forwarded-host', 'app.example.com'],
          ['x-forwarded-host', 'admin.example.com'],
          ['x-forwarded-uri', '/'],
        ],
      },
    },
    {
      name: 'X-Forwarded-Host listing two hosts',
      call: {
        method: 'GET',
        path: '/forward-auth',
        headers: [
          ['host', 'a'],
          ['x-forwarded-method', 'GET'],
          ['x-forwarded-host', 'app.example.com, admin.example.com'],
          ['x-forwarded-uri', '/'],
        ],
      },
    },
    {
      name: 'X-Forwarded-Method that is not a method',
      call: {
        method: 'GET',
        path: '/forward-auth',
        headers: [
          ['host', 'a'],
          ['x-forwarded-method', 'GET, POST'],
          ['x-forwarded-host', 'app.example.com'],
          ['x-forwarded-uri', '/'],
        ],
      },
    },
    {
      name: 'an absolute-form X-Forwarded-Uri',
      call: {
        method: 'GET',
        path: '/forward-auth',
        headers: [
          ['host', 'a'],
          ['x-forwarded-method', 'GET'],
          ['x-forwarded-host', 'app.example.com'],
          ['x-forwarded-uri', 'http://admin.example.com/'],
        ],
      },
    },
    {
      name: 'auth-request without X-Original-Method',
      call: {
        method: 'GET',
        path: '/auth-request',
        headers: [
          ['host', 'app.example.com'],
          ['x-original-url', 'https://app.example.com/'],
        ],
      },
    },
    {
      name: 'auth-request with a relative X-Original-URL',
      call: {
        method: 'GET',
        path: '/auth-request',
        headers: [
          ['host', 'app.example.com'],
          ['x-original-method', 'GET'],
          ['x-original-url', '/admin'],
        ],
      },
    },
    {
      name: 'auth-request with neither X-Original-URL nor -URI',
      call: {
        method: 'GET',
        path: '/auth-request',
        headers: [
          ['host', 'app.example.com'],
          ['x-original-method', 'GET'],
        ],
      },
    },
    // Issue 18, finding 2: nginx routed on the request line's host (X-Original-Host: $host) while
    // an X-Original-URL built from $http_host names the client's Host.
    {
      name: 'auth-request whose X-Original-URL names another host than X-Original-Host',
      call: {
        method: 'GET',
        path: '/auth-request',
        headers: [
          ['host', 'a'],
          ['x-original-method', 'GET'],
          ['x-original-url', 'https://app.example.com/users'],
          ['x-original-host', 'admin.example.com'],
        ],
      },
    },
    {
      name: 'auth-request whose X-Original-URI with Host names another host than X-Original-Host',
      call: {
        method: 'GET',
        path: '/auth-request',
        headers: [
          ['host', 'app.example.com'],
          ['x-original-method', 'GET'],
          ['x-original-uri', '/users'],
          ['x-original-host', 'admin.example.com'],
        ],
      },
    },
    {
      name: 'auth-request with an X-Original-Host that is not a host',
      call: {
        method: 'GET',
        path: '/auth-request',
        headers: [
          ['host', 'a'],
          ['x-original-method', 'GET'],
          ['x-original-url', 'https://app.example.com/'],
          ['x-original-host', 'app.example.com/x'],
        ],
      },
    },
    {
      name: 'auth-request with two X-Original-Host lines',
      call: {
        method: 'GET',
        path: '/auth-request',
        headers: [
          ['host', 'a'],
          ['x-original-method', 'GET'],
          ['x-original-url', 'https://app.example.com/'],
          ['x-original-host', 'app.example.com'],
          ['x-original-host', 'admin.example.com'],
        ],
      },
    },
  ];
  for (const { name, call } of malformed) {
    test(`${name} → 400 bad_request`, async () => {
      const answer = await send(call);
      assert.equal(answer.status, 400);
      assert.equal(errorIdOf(answer), 'bad_request');
    });
  }

  test('auth-request: X-Original-URI with Host and X-Forwarded-Proto describes the request too', async () => {
    const answer = await send({
      method: 'GET',
      path: '/auth-request',
      headers: [
        ['host', 'app.example.com'],
        ['x-forwarded-proto', 'https'],
        ['x-original-method', 'GET'],
        ['x-original-uri', '/orders?id=7'],
        ['sec-fetch-mode', 'navigate'],
      ],
    });
    assert.equal(answer.status, 401);
    assert.equal(
      answer.headers.location,
      `${h.emulator.publicUrl}/self-service/login/browser?return_to=${encodeURIComponent('https://app.example.com/orders?id=7')}`,
    );
  });

  test("auth-request: an X-Original-Host naming the URL's host (in any case, the URL with a port) is no disagreement", async () => {
    const answer = await send({
      method: 'GET',
      path: '/auth-request',
      headers: [
        ['host', 'a'],
        ['x-original-method', 'GET'],
        ['x-original-url', 'https://App.Example.com:8443/real'],
        ['x-original-host', 'app.example.com'],
        ['sec-fetch-mode', 'navigate'],
      ],
    });
    assert.equal(answer.status, 401);
    assert.match(answer.headers.location ?? '', /return_to=https%3A%2F%2FApp\.Example\.com%3A8443%2Freal$/);
  });

  test('auth-request: X-Original-URL wins over X-Original-URI', async () => {
    const answer = await send({
      method: 'GET',
      path: '/auth-request',
      headers: [
        ['host', 'app.example.com'],
        ['x-original-method', 'GET'],
        ['x-original-url', 'https://app.example.com/real'],
        ['x-original-uri', '/other'],
        ['sec-fetch-mode', 'navigate'],
      ],
    });
    assert.match(answer.headers.location ?? '', /return_to=https%3A%2F%2Fapp\.example\.com%2Freal$/);
  });

  test('without X-Forwarded-Proto the login link has no return_to (the scheme is unknown)', async () => {
    const answer = await send({
      method: 'GET',
      path: '/forward-auth',
      headers: [
        ['host', 'a'],
        ['x-forwarded-method', 'GET'],
        ['x-forwarded-host', 'app.example.com'],
        ['x-forwarded-uri', '/x'],
        ['sec-fetch-mode', 'navigate'],
      ],
    });
    assert.equal(answer.status, 302);
    assert.equal(answer.headers.location, `${h.emulator.publicUrl}/self-service/login/browser`);
  });
});

describe('server.http_authz_address: ""', () => {
  test('turns the listener off', async () => {
    const h = await startHarness({ config: { server: { http_authz_address: '' } } });
    try {
      assert.equal(h.service.httpAuthzPort, undefined);
      assert.equal(h.http, undefined);
    } finally {
      await h.close();
    }
  });
});

describe('shutdown', () => {
  test('a check in flight is answered; the listener then refuses new calls', async () => {
    const h = await startHarness({ config: { server: { shutdown_timeout: '3s' }, kratos: { timeout: '2s' } } });
    try {
      const session = h.newSession(h.emulator.addIdentity());
      h.emulator.setLatency('whoami', 300);
      assert.ok(h.http && h.service.httpAuthzPort);
      const inFlight = h.http.check('forward_auth', { headers: { 'x-session-token': session.token } });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const stopped = h.service.shutdown();
      assert.equal((await inFlight).status, 200);
      await stopped;
      await assert.rejects(new AuthzHttpClient(h.service.httpAuthzPort).check('forward_auth', {}), /ECONNREFUSED/);
    } finally {
      h.emulator.setLatency('whoami', 0);
      await h.close();
    }
  });
});
