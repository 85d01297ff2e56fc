/** Credential forms, Kratos's precedence, cookie edge cases and both of Envoy's header encodings. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { httpStatusOf, metadataOf, upstreamHeaders, type CheckSpec } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import type { CreatedSession } from '../support/kratos-emulator';

let h: Harness;
let alice: CreatedSession;
let bob: CreatedSession;
before(async () => {
  h = await startHarness();
  alice = h.newSession(h.emulator.addIdentity());
  bob = h.newSession(h.emulator.addIdentity());
});
after(() => h.close());
beforeEach(() => h.emulator.clearRequests());

/** The credential headers Kratos received on the one whoami call this check made. */
function forwarded(): Record<string, unknown> {
  const calls = h.emulator.requests.filter((request) => request.endpoint === 'whoami');
  assert.equal(calls.length, 1, 'exactly one whoami call');
  const { cookie, authorization, 'x-session-token': token } = calls[0]?.headers ?? {};
  return { cookie, authorization, 'x-session-token': token };
}

async function identityOf(spec: CheckSpec): Promise<string | undefined> {
  const response = await h.client.check(spec);
  return httpStatusOf(response) === 200 ? upstreamHeaders(response)['x-kratos-session-id'] : undefined;
}

for (const encoding of ['map', 'raw'] as const) {
  describe(`${encoding === 'map' ? 'headers map' : 'header_map (encode_raw_headers)'}`, () => {
    test('X-Session-Token', async () => {
      assert.equal(await identityOf({ encoding, headers: { 'x-session-token': alice.token } }), alice.id);
      assert.deepEqual(forwarded(), { cookie: undefined, authorization: undefined, 'x-session-token': alice.token });
    });

    test('Authorization: Bearer (scheme case-insensitive) is forwarded as the session token only', async () => {
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        h.emulator.clearRequests();
        assert.equal(
          await identityOf({ encoding, headers: { authorization: `${scheme} ${alice.token}` } }),
          alice.id,
          scheme,
        );
        assert.deepEqual(forwarded(), { cookie: undefined, authorization: undefined, 'x-session-token': alice.token });
      }
    });

    test("the session cookie among the app's cookies: only the Kratos cookie is forwarded", async () => {
      const cookie = `theme=dark; ${h.emulator.cookieHeaderFor(alice)}; _ga=GA1.2.3`;
      assert.equal(await identityOf({ encoding, headers: { cookie } }), alice.id);
      assert.deepEqual(forwarded(), {
        cookie: h.emulator.cookieHeaderFor(alice),
        authorization: undefined,
        'x-session-token': undefined,
      });
    });

    test('several cookie lines (HTTP/1 clients sending two Cookie headers)', async () => {
      const response = await h.client.check({
        encoding,
        headers: [
          ['cookie', 'a=1; b=2'],
          ['cookie', h.emulator.cookieHeaderFor(alice)],
        ],
      });
      assert.equal(upstreamHeaders(response)['x-kratos-session-id'], alice.id);
    });

    test('precedence: X-Session-Token beats the cookie, which beats Bearer', async () => {
      const all = {
        'x-session-token': alice.token,
        cookie: h.emulator.cookieHeaderFor(bob),
        authorization: `Bearer ${bob.token}`,
      };
      assert.equal(await identityOf({ encoding, headers: all }), alice.id);
      h.emulator.clearRequests();
      assert.equal(
        await identityOf({
          encoding,
          headers: { cookie: h.emulator.cookieHeaderFor(alice), authorization: `Bearer ${bob.token}` },
        }),
        alice.id,
      );
      assert.deepEqual(forwarded(), {
        cookie: h.emulator.cookieHeaderFor(alice),
        authorization: undefined,
        'x-session-token': undefined,
      });
    });

    test('no fallback: an invalid X-Session-Token is not rescued by a valid cookie', async () => {
      const response = await h.client.check({
        encoding,
        headers: {
          'x-session-token': h.remember('ory_st_invalidinvalidinvalid0000'),
          cookie: h.emulator.cookieHeaderFor(alice),
        },
      });
      assert.equal(httpStatusOf(response), 401);
      assert.equal(metadataOf(response).credential, 'token');
    });
  });
}

describe('cookie edge cases', () => {
  test('cookies joined with "," by Envoy (repeated HTTP/1 Cookie lines in the headers map)', async () => {
    assert.equal(
      await identityOf({
        headers: [
          ['cookie', 'a=1'],
          ['cookie', h.emulator.cookieHeaderFor(alice)],
        ],
      }),
      alice.id,
    );
  });

  test('quoted value and surrounding whitespace', async () => {
    assert.equal(
      await identityOf({ headers: { cookie: `  a=1 ;   ${h.emulator.cookieName}="${alice.cookie}"  ; b=2` } }),
      alice.id,
    );
    assert.equal(forwarded().cookie, h.emulator.cookieHeaderFor(alice));
  });

  test('duplicates: the first one wins', async () => {
    assert.equal(
      await identityOf({
        headers: { cookie: `${h.emulator.cookieHeaderFor(bob)}; ${h.emulator.cookieHeaderFor(alice)}` },
      }),
      bob.id,
    );
  });

  test('a cookie whose name only contains the session cookie name is not the session cookie', async () => {
    const response = await h.client.check({
      headers: { cookie: `x${h.emulator.cookieName}=${alice.cookie}; ${h.emulator.cookieName}_2=${alice.cookie}` },
    });
    assert.equal(httpStatusOf(response), 401);
    assert.equal(metadataOf(response).credential, 'none');
    assert.equal(h.emulator.count('whoami'), 0, 'no credential, no Kratos call');
  });

  test('an empty session cookie counts as absent and Bearer is used', async () => {
    assert.equal(
      await identityOf({ headers: { cookie: `${h.emulator.cookieName}=`, authorization: `Bearer ${alice.token}` } }),
      alice.id,
    );
  });

  test('a 64 KiB cookie header with the session cookie at the end is read', async () => {
    const padding = Array.from({ length: 1024 }, (_, index) => `c${index}=${'v'.repeat(56)}`).join('; ');
    assert.ok(padding.length > 60_000);
    assert.equal(
      await identityOf({ headers: { cookie: `${padding}; ${h.emulator.cookieHeaderFor(alice)}` } }),
      alice.id,
    );
  });
});

describe('malformed credentials get a clear denial without a Kratos call', () => {
  const cases: Array<[string, CheckSpec, string]> = [
    ['Bearer with two spaces', { headers: { authorization: 'Bearer  ory_st_abc' } }, 'none'],
    ['Bearer with three parts', { headers: { authorization: 'Bearer a b' } }, 'none'],
    ['Basic scheme', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }, 'none'],
    [
      'binary bytes in X-Session-Token (raw header_map)',
      { encoding: 'raw', headers: [['x-session-token', Buffer.from([0x6f, 0x72, 0x79, 0xff, 0x00, 0x0a, 0x41])]] },
      'token',
    ],
    // Go's cookie reader refuses the value, so to Kratos there is no session cookie at all.
    [
      'binary bytes in the session cookie (raw header_map)',
      {
        encoding: 'raw',
        headers: [
          [
            'cookie',
            Buffer.concat([Buffer.from('ory_kratos_session=ab'), Buffer.from([0xc3, 0x28, 0x01]), Buffer.from('cd')]),
          ],
        ],
      },
      'none',
    ],
    ['a 64 KiB session cookie value', { headers: { cookie: `ory_kratos_session=${'A'.repeat(65_536)}` } }, 'cookie'],
    ['a non-ASCII token in the headers map', { headers: { 'x-session-token': 'ory_st_ünïcödé' } }, 'token'],
  ];
  for (const [name, spec, credential] of cases) {
    test(name, async () => {
      const response = await h.client.check(spec);
      assert.equal(httpStatusOf(response), 401);
      assert.equal(metadataOf(response).credential, credential);
      assert.equal(metadataOf(response).reason, 'unauthenticated');
      assert.equal(h.emulator.count('whoami'), 0);
    });
  }
});

describe('identity headers', () => {
  test('client-sent x-kratos-* headers are overwritten on allow', async () => {
    const response = await h.client.check({
      headers: {
        'x-session-token': alice.token,
        'x-kratos-identity-id': 'forged',
        'x-kratos-aal': 'aal2',
        'x-kratos-session-id': 'forged',
      },
    });
    const options = response.ok_response?.headers ?? [];
    assert.deepEqual(
      options.map((option) => [option.header.key, option.append?.value]),
      [
        ['x-kratos-identity-id', false],
        ['x-kratos-session-id', false],
        ['x-kratos-aal', false],
      ],
    );
    assert.equal(upstreamHeaders(response)['x-kratos-session-id'], alice.id);
    assert.equal(upstreamHeaders(response)['x-kratos-aal'], 'aal1');
  });

  test('x-request-id is passed to Kratos', async () => {
    await h.client.check({ headers: { 'x-session-token': alice.token, 'x-request-id': 'req-42' } });
    const call = h.emulator.requests.find((request) => request.endpoint === 'whoami');
    assert.equal(call?.headers['x-request-id'], 'req-42');
  });
});
