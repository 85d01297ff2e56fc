/**
 * Requests read as the upstreams and Kratos read them: path case and prefixes, authorities,
 * oversized CheckRequests, cookies and tokens, HEAD, identity header spellings. Each through the
 * wire: the official-proto client, the real service, the Kratos emulator. (Found by the
 * security review of issue 14.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deniedJson, httpStatusOf, metadataOf, upstreamHeaders } from '../support/envoy-client';
import { otherSpellings } from '../support/spellings';
import { startHarness, type Harness } from '../support/harness';
import type { CreatedSession } from '../support/kratos-emulator';
import { AAL1, XHR } from '../support/fixtures';

let h: Harness;
let plain: CreatedSession;
before(async () => {
  h = await startHarness({
    config: {
      policy: {
        rules: [
          { name: 'admin', paths: ['/admin/*'], cookie: 'aal2', token: 'aal2' },
          { name: 'internal', paths: ['/internal/*'], deny: true },
          { name: 'metrics', paths: ['/metrics'], methods: ['GET'], deny: true },
          { name: 'admin-host', hosts: ['admin.example.com'], cookie: 'aal2', token: 'aal2' },
          { name: 'public-hosts', hosts: ['*.public.example.com'], anonymous: true },
          { name: 'root', paths: ['/'], anonymous: true },
        ],
      },
    },
  });
  plain = h.newSession(h.emulator.addIdentity(), { methods: AAL1 });
});
after(() => h.close());

function token(): Record<string, string> {
  return { 'x-session-token': plain.token, ...XHR };
}

describe('path case: a case-insensitive upstream routes /ADMIN to /admin', () => {
  test('GET /ADMIN/x with an aal1 token is refused, not let through by the default rule', async () => {
    const response = await h.client.check({ path: '/ADMIN/x', headers: token() });
    assert.equal(httpStatusOf(response), 400);
    assert.equal(metadataOf(response).reason, 'bad_request');
  });

  test('GET /INTERNAL/x is refused', async () => {
    assert.equal(httpStatusOf(await h.client.check({ path: '/INTERNAL/x', headers: token() })), 400);
  });

  test('the lower-case path gets its rule', async () => {
    assert.equal(httpStatusOf(await h.client.check({ path: '/admin/x', headers: token() })), 403);
    assert.equal(httpStatusOf(await h.client.check({ path: '/internal/x', headers: token() })), 403);
  });

  test('policy.case_sensitive_paths: true matches as written', async () => {
    const strict = await startHarness({
      config: { policy: { case_sensitive_paths: true, rules: [{ paths: ['/internal/*'], deny: true }] } },
    });
    try {
      const session = strict.newSession(strict.emulator.addIdentity(), { methods: AAL1 });
      assert.equal(
        httpStatusOf(await strict.client.check({ path: '/INTERNAL/x', headers: { 'x-session-token': session.token } })),
        200,
      );
      assert.equal(
        httpStatusOf(await strict.client.check({ path: '/internal/x', headers: { 'x-session-token': session.token } })),
        403,
      );
    } finally {
      await strict.close();
    }
  });
});

describe('trailing slash and the prefix root', () => {
  for (const path of ['/metrics', '/metrics/', '/internal', '/internal/']) {
    test(`${path} is denied by its rule`, async () => {
      const response = await h.client.check({ path, headers: token() });
      assert.equal(httpStatusOf(response), 403);
      assert.equal(metadataOf(response).reason, 'rule_deny');
    });
  }

  test('/metrics/. is refused (as sent it is under no rule, resolved it is /metrics/)', async () => {
    assert.equal(httpStatusOf(await h.client.check({ path: '/metrics/.', headers: token() })), 400);
  });
});

describe('the path as sent is a reading of its own', () => {
  for (const path of ['/internal/x/../../', '/admin/users////../../..', '/internal//..', '/admin/x/%2e%2e/%2e%2e/']) {
    test(`${path} does not fall under the anonymous "/" rule`, async () => {
      const response = await h.client.check({ path });
      assert.notEqual(httpStatusOf(response), 200);
      assert.notEqual(metadataOf(response).policy, 'root');
    });
  }
});

describe('authorities that are not a plain host are refused before rules run', () => {
  // A trailing dot too: Caddy routes `admin.example.com.` to its catch-all site (issue 18).
  const authorities = [
    'admin.example.com:abc',
    'admin.example.com:80.',
    'admin.example.com:1:2',
    'x@admin.example.com',
    'admin.example.com..',
    'admin.example.com:x@y.public.example.com',
    'admin.example.com.',
  ];
  for (const host of authorities) {
    test(JSON.stringify(host), async () => {
      const response = await h.client.check({ host, path: '/dashboard', headers: token() });
      assert.equal(httpStatusOf(response), 400);
      assert.equal((deniedJson(response).error as { id: string }).id, 'bad_request');
    });
  }

  test('the plain spellings get the host rule', async () => {
    for (const host of ['admin.example.com', 'ADMIN.example.com:8443', 'admin.example.com:1']) {
      assert.equal(
        metadataOf(await h.client.check({ host, path: '/dashboard', headers: token() })).policy,
        'admin-host',
        host,
      );
    }
  });

  test('the logged host is the parsed one', async () => {
    await h.client.check({ host: 'Admin.Example.com:8443', path: '/dashboard', headers: token() });
    const line = h.logs.filter((entry) => entry.msg === 'check').at(-1);
    assert.equal(line?.host, 'admin.example.com');
  });
});

describe('oversized and undecodable CheckRequests are denials, never gRPC errors', () => {
  test('a CheckRequest with headers just under 1 MiB is decided', async () => {
    const response = await h.client.check({
      path: '/admin/x',
      headers: { ...token(), 'x-padding': 'a'.repeat(1024 * 1024 - 1024) },
    });
    assert.equal(httpStatusOf(response), 403);
    assert.equal(metadataOf(response).policy, 'admin');
  });

  // Issue 18: Kratos (Go net/http) refuses request headers over 1 MiB, so none can be a valid
  // credential request; past grpc-js's default 4 MiB limit it is still a denial, not an RPC error.
  test('a 4.1 MiB CheckRequest (over 1 MiB of headers) is answered 413 with a successful RPC', async () => {
    const response = await h.client.check({
      path: '/admin/x',
      headers: { ...token(), 'x-padding': 'a'.repeat(4.1 * 1024 * 1024) },
    });
    assert.equal(response.status?.code, 8);
    assert.equal(httpStatusOf(response), 413);
    assert.equal(metadataOf(response).reason, 'request_too_large');
  });

  test('a 9 MiB CheckRequest is answered 413 with a successful RPC', async () => {
    const response = await h.client.check({ path: '/', headers: { 'x-padding': 'a'.repeat(9 * 1024 * 1024) } });
    assert.equal(response.status?.code, 8);
    assert.equal(httpStatusOf(response), 413);
    assert.equal((deniedJson(response).error as { id: string }).id, 'request_too_large');
    assert.equal(metadataOf(response).reason, 'request_too_large');
  });

  for (const [name, bytes] of [
    ['a length past the end', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])],
    ['a truncated varint', Buffer.from([0x0a, 0x80])],
    ['an invalid wire type', Buffer.from([0x0f, 0x00])],
  ] as const) {
    test(`bytes that are not a CheckRequest (${name}) get a 400 denial`, async () => {
      const response = await h.client.sendBytes(bytes);
      assert.equal(response.status?.code, 3);
      assert.equal(httpStatusOf(response), 400);
      assert.equal(metadataOf(response).reason, 'bad_request');
    });
  }
});

describe('cookies and tokens read as Kratos reads them', () => {
  test('one raw cookie line: "," separates nothing, the cookie Go reads is the one forwarded', async () => {
    const other = h.newSession(h.emulator.addIdentity(), { methods: AAL1 });
    const line = `tossed=x,ory_kratos_session=${other.cookie}; ory_kratos_session=${plain.cookie}`;
    const response = await h.client.check({
      path: '/x',
      encoding: 'raw',
      headers: [
        ['cookie', line],
        ['accept', 'application/json'],
      ],
    });
    assert.equal(upstreamHeaders(response)['x-kratos-session-id'], plain.id);
  });

  test('a stale session cookie in front of a valid one: both forwarded in order, Kratos uses the valid one', async () => {
    h.emulator.clearRequests();
    const stale = h.remember('MTcwMDAwMDAwMHxzdGFsZS1wYXJlbnQtZG9tYWluLWNvb2tpZQ');
    const response = await h.client.check({
      path: '/x',
      headers: [
        ['cookie', `ory_kratos_session=${stale}; app=1`],
        ['cookie', `ory_kratos_session=${plain.cookie}`],
        ['accept', 'application/json'],
      ],
    });
    assert.equal(upstreamHeaders(response)['x-kratos-session-id'], plain.id);
    const forwarded = h.emulator.requests.find((request) => request.endpoint === 'whoami')?.headers.cookie;
    assert.equal(forwarded, `ory_kratos_session=${stale}; ory_kratos_session=${plain.cookie}`);
  });

  test("two X-Session-Token lines joined by Envoy: the first is used, as Kratos's Header.Get does", async () => {
    const response = await h.client.check({
      path: '/x',
      headers: [
        ['x-session-token', plain.token],
        ['x-session-token', 'ory_st_second'],
      ],
    });
    assert.equal(upstreamHeaders(response)['x-kratos-session-id'], plain.id);
  });
});

describe('HEAD is served by the GET handler', () => {
  test('a deny rule for GET denies HEAD', async () => {
    const response = await h.client.check({ method: 'HEAD', path: '/metrics', headers: token() });
    assert.equal(httpStatusOf(response), 403);
    assert.equal(metadataOf(response).policy, 'metrics');
  });

  test('a forged CORS preflight is not let through by default', async () => {
    const response = await h.client.check({
      method: 'OPTIONS',
      path: '/admin/x',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(httpStatusOf(response), 401);
  });
});

describe('identity header spellings with "_"', () => {
  test('are removed on an allowed request with a subject, mixed "-"/"_" ones too', async () => {
    const response = await h.client.check({
      path: '/x',
      headers: { ...token(), x_kratos_identity_id: 'forged', 'x-kratos-identity_id': 'forged' },
    });
    assert.equal(httpStatusOf(response), 200);
    // x-session-token: the credential itself, stripped by default (policy.strip_credentials).
    const expected = [
      ...['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal'].flatMap(otherSpellings),
      'x-session-token',
    ];
    assert.deepEqual([...(response.ok_response?.headers_to_remove ?? [])].sort(), expected.sort());
  });
});
