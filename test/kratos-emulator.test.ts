// Tests for the Kratos emulator itself: every behaviour other suites rely on is pinned
// here against the fact sheet (/work/shared/reference/kratos-whoami.md, "§n").
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { KratosEmulator, type CreatedSession, type EmulatorCredentials } from './support/kratos-emulator';

const NO_SESSION_BODY =
  '{"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}';
const TOTP: EmulatorCredentials = {
  password: { identifiers: ['mfa@example.com'] },
  totp: { totp_url: 'otpauth://totp/Example:mfa@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example' },
};
const AAL2_METHODS = [
  { method: 'password', aal: 'aal1' as const },
  { method: 'totp', aal: 'aal2' as const },
];

let kratos: KratosEmulator;

interface Answer {
  status: number;
  text: string;
  headers: Headers;
  json: () => Record<string, unknown>;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) as Record<string, unknown> };
}

function whoami(headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Answer> {
  return call(`${kratos.publicUrl}/sessions/whoami`, { ...init, headers });
}

function adminIdentity(id: string, query = '', headers: Record<string, string> = {}): Promise<Answer> {
  return call(`${kratos.adminUrl}/admin/identities/${id}${query}`, { headers });
}

/** A fresh password-only identity with one aal1 session. */
function passwordSession(): CreatedSession {
  return kratos.createSession(kratos.addIdentity());
}

/**
 * fetch and node:http both fold repeated Cookie headers into one line, so several
 * Cookie lines need a hand-written HTTP/1.1 request.
 */
async function rawWhoami(headerLines: string[]): Promise<number> {
  const { port } = new URL(kratos.publicUrl);
  const socket = net.connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.end(
    ['GET /sessions/whoami HTTP/1.1', 'Host: kratos', 'Connection: close', ...headerLines, '', ''].join('\r\n'),
  );
  let response = '';
  for await (const chunk of socket) response += String(chunk);
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
}

before(async () => {
  kratos = await KratosEmulator.start();
});

after(async () => {
  await kratos.stop();
});

beforeEach(() => {
  kratos.setRequiredAal('aal1');
  kratos.setCodeMfaEnabled(false);
  kratos.clearFaults();
  kratos.clearRequests();
  for (const endpoint of ['whoami', 'identity', 'health'] as const) kratos.setLatency(endpoint, 0);
});

describe('token extraction precedence (§1.2, §1.3)', () => {
  test('X-Session-Token wins even when it is invalid: no fallback to a valid cookie or Bearer', async () => {
    const s = passwordSession();
    const answer = await whoami({
      'X-Session-Token': 'ory_st_invalid',
      Cookie: kratos.cookieHeaderFor(s),
      Authorization: `Bearer ${s.token}`,
    });
    assert.equal(answer.status, 401);
  });

  test('a valid X-Session-Token alone authenticates', async () => {
    const s = passwordSession();
    const answer = await whoami({ 'X-Session-Token': s.token });
    assert.equal(answer.status, 200);
    assert.equal(answer.json()['id'], s.id);
  });

  test('an empty X-Session-Token is skipped', async () => {
    const s = passwordSession();
    assert.equal((await whoami({ 'X-Session-Token': '', Authorization: `Bearer ${s.token}` })).status, 200);
  });

  test('a valid cookie beats Bearer, even when the cookie session is dead', async () => {
    const a = passwordSession();
    const b = passwordSession();
    const answer = await whoami({ Cookie: kratos.cookieHeaderFor(a), Authorization: `Bearer ${b.token}` });
    assert.equal(answer.status, 200);
    assert.equal(answer.json()['id'], a.id);

    kratos.revokeSession(a.id);
    assert.equal((await whoami({ Cookie: kratos.cookieHeaderFor(a), Authorization: `Bearer ${b.token}` })).status, 401);
  });

  test('an undecodable cookie falls through to the Bearer token', async () => {
    kratos.setRequiredAal('highest_available');
    const s = kratos.createSession(kratos.addIdentity({ credentials: TOTP }));
    // The 403 proves the Bearer session was looked up and AAL-checked.
    const answer = await whoami({ Cookie: `${kratos.cookieName}=junk`, Authorization: `Bearer ${s.token}` });
    assert.equal(answer.status, 403);
    assert.equal((await whoami({ Cookie: `${kratos.cookieName}=junk` })).status, 401);
  });

  test('undecodable cookie + passing Bearer session fails in RefreshCookie with a 500 (§1.2 pitfall)', async () => {
    const s = passwordSession();
    const answer = await whoami({
      Cookie: `${kratos.cookieName}=junk`,
      Authorization: `Bearer ${s.token}`,
      'X-Request-ID': 'r-9',
    });
    assert.equal(answer.status, 500);
    assert.equal(answer.headers.get('x-kratos-authenticated-identity-id'), s.identityId);
    assert.deepEqual(answer.json(), {
      error: {
        code: 500,
        status: 'Internal Server Error',
        request: 'r-9',
        message: 'securecookie: the value is not valid',
      },
    });
  });

  test('Authorization must be exactly "<bearer> <token>" with a single space', async () => {
    const s = passwordSession();
    assert.equal((await whoami({ Authorization: `bearer ${s.token}` })).status, 200);
    assert.equal((await whoami({ Authorization: `BEARER ${s.token}` })).status, 200);
    assert.equal((await whoami({ Authorization: `Bearer  ${s.token}` })).status, 401);
    assert.equal((await whoami({ Authorization: `Bearer ${s.token} x` })).status, 401);
    assert.equal((await whoami({ Authorization: `Basic ${s.token}` })).status, 401);
    assert.equal((await whoami({ Authorization: s.token })).status, 401);
  });

  test('no credentials at all → 401', async () => {
    assert.equal((await whoami()).status, 401);
  });
});

describe('cookie parsing (Go net/http semantics)', () => {
  test('with duplicate names the first cookie that decodes wins', async () => {
    const a = passwordSession();
    const b = passwordSession();
    const name = kratos.cookieName;
    const answer = await whoami({ Cookie: `${name}=junk; other=1; ${name}=${a.cookie}; ${name}=${b.cookie}` });
    assert.equal(answer.status, 200);
    assert.equal(answer.json()['id'], a.id);
  });

  test('one pair of surrounding double quotes is stripped', async () => {
    const s = passwordSession();
    assert.equal((await whoami({ Cookie: `${kratos.cookieName}="${s.cookie}"` })).status, 200);
  });

  test('cookies are collected across several Cookie header lines, in order', async () => {
    const s = passwordSession();
    const status = await rawWhoami([`Cookie: a=1; ${kratos.cookieName}=junk`, `Cookie: ${kratos.cookieHeaderFor(s)}`]);
    assert.equal(status, 200);
  });

  test('a comma does not separate cookies: a session cookie after a comma is not found', async () => {
    const s = passwordSession();
    assert.equal((await whoami({ Cookie: `other=1, ${kratos.cookieHeaderFor(s)}` })).status, 401);
  });

  test('a tampered or foreign cookie does not decode', async () => {
    const s = passwordSession();
    const other = await KratosEmulator.start();
    try {
      const foreign = other.createSession(other.addIdentity());
      assert.equal((await whoami({ Cookie: `${kratos.cookieName}=${foreign.cookie}` })).status, 401);
      assert.equal((await whoami({ Cookie: `${kratos.cookieName}=${s.cookie}x` })).status, 401);
    } finally {
      await other.stop();
    }
  });

  test('a custom cookie name is honoured and the default name is then ignored', async () => {
    const custom = await KratosEmulator.start({ cookieName: 'my_session' });
    try {
      const s = custom.createSession(custom.addIdentity());
      assert.equal(custom.cookieHeaderFor(s), `my_session=${s.cookie}`);
      const url = `${custom.publicUrl}/sessions/whoami`;
      assert.equal((await call(url, { headers: { Cookie: `my_session=${s.cookie}` } })).status, 200);
      assert.equal((await call(url, { headers: { Cookie: `ory_kratos_session=${s.cookie}` } })).status, 401);
    } finally {
      await custom.stop();
    }
  });
});

describe('401 responses (§3.1)', () => {
  test('exact body and headers without X-Request-ID', async () => {
    const answer = await whoami({ 'X-Session-Token': 'ory_st_unknown' });
    assert.equal(answer.status, 401);
    assert.equal(answer.text, NO_SESSION_BODY);
    assert.equal(answer.headers.get('content-type'), 'application/json');
    assert.equal(answer.headers.get('ory-error-id'), '');
    assert.equal(answer.headers.get('x-kratos-authenticated-identity-id'), null);
  });

  test('X-Request-ID becomes error.request, right after status', async () => {
    const answer = await whoami({ 'X-Request-ID': 'req-123' });
    assert.equal(
      answer.text,
      '{"error":{"code":401,"status":"Unauthorized","request":"req-123","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}',
    );
  });

  test('revoked, expired, inactive-identity and created-inactive sessions all get the same 401', async () => {
    const revoked = passwordSession();
    kratos.revokeSession(revoked.id);
    const expired = passwordSession();
    kratos.expireSession(expired.id);
    const disabled = passwordSession();
    kratos.setIdentityState(disabled.identityId, 'inactive');
    const createdInactive = kratos.createSession(kratos.addIdentity(), { active: false });
    const pastExpiry = kratos.createSession(kratos.addIdentity(), { expiresAt: new Date(Date.now() - 5) });
    for (const s of [revoked, expired, disabled, createdInactive, pastExpiry]) {
      const answer = await whoami({ 'X-Session-Token': s.token });
      assert.equal(answer.status, 401);
      assert.equal(answer.text, NO_SESSION_BODY);
    }
    kratos.setIdentityState(disabled.identityId, 'active');
    assert.equal((await whoami({ 'X-Session-Token': disabled.token })).status, 200);
  });
});

describe('AAL enforcement (§5)', () => {
  test('highest_available: exact 403 for a TOTP identity on an aal1 session', async () => {
    kratos.setRequiredAal('highest_available');
    const s = kratos.createSession(kratos.addIdentity({ credentials: TOTP }));
    const answer = await whoami({ Cookie: kratos.cookieHeaderFor(s), 'X-Request-ID': 'not-in-403' });
    const redirect = `${kratos.publicUrl}/self-service/login/browser?aal=aal2`;
    assert.equal(answer.status, 403);
    assert.equal(
      answer.text,
      '{"error":{"id":"session_aal2_required","code":403,"status":"Forbidden","reason":"An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.",' +
        `"details":{"redirect_browser_to":"${redirect}"},"message":"Session does not fulfill the requested Authenticator Assurance Level"},"redirect_browser_to":"${redirect}"}`,
    );
    assert.equal(answer.headers.get('ory-error-id'), 'session_aal2_required');
    assert.equal(answer.headers.get('content-type'), 'application/json');
  });

  test('stepUp upgrades the same token and cookie to aal2, resets timestamps and re-issues the cookie', async () => {
    kratos.setRequiredAal('highest_available');
    const s = kratos.createSession(kratos.addIdentity({ credentials: TOTP }));
    assert.equal((await whoami({ 'X-Session-Token': s.token })).status, 403);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const stepUpAt = Date.now();
    kratos.stepUp(s.id);

    const byToken = await whoami({ 'X-Session-Token': s.token });
    assert.equal(byToken.status, 200);
    const body = byToken.json();
    assert.equal(body['authenticator_assurance_level'], 'aal2');
    assert.deepEqual(
      (body['authentication_methods'] as Array<Record<string, unknown>>).map((m) => [m['method'], m['aal']]),
      [
        ['password', 'aal1'],
        ['totp', 'aal2'],
      ],
    );
    assert.ok(Date.parse(String(body['authenticated_at'])) >= stepUpAt);
    assert.equal(byToken.headers.get('set-cookie'), null, 'no cookie in the request, nothing to refresh');

    const byCookie = await whoami({ Cookie: kratos.cookieHeaderFor(s) });
    assert.equal(byCookie.status, 200);
    // expires_at moved past the one embedded in the old cookie, so RefreshCookie re-issues it.
    const setCookie = byCookie.headers.get('set-cookie') ?? '';
    assert.match(
      setCookie,
      new RegExp(`^${kratos.cookieName}=[^;]+; Path=/; Expires=.+; Max-Age=\\d+; HttpOnly; SameSite=Lax$`),
    );
    const fresh = setCookie.slice(kratos.cookieName.length + 1, setCookie.indexOf(';'));
    const again = await whoami({ Cookie: `${kratos.cookieName}=${fresh}` });
    assert.equal(again.json()['id'], s.id);
    assert.equal(again.headers.get('set-cookie'), null);
  });

  test('PATCH /admin/sessions/{id}/extend: 200 with the session, expires_at a lifespan from now; the old cookie is renewed at every whoami, the new one is not', async () => {
    const s = kratos.createSession(kratos.addIdentity(), { expiresAt: new Date(Date.now() + 3_600_000) });
    assert.equal(
      (await whoami({ Cookie: kratos.cookieHeaderFor(s) })).headers.get('set-cookie'),
      null,
      'not extended: nothing to renew',
    );
    const extended = await call(`${kratos.adminUrl}/admin/sessions/${s.id}/extend`, { method: 'PATCH' });
    assert.equal(extended.status, 200);
    assert.equal(extended.json()['id'], s.id);
    assert.ok(Date.parse(String(extended.json()['expires_at'])) > Date.now() + 23 * 3_600_000);
    assert.equal(
      (await call(`${kratos.adminUrl}/admin/sessions/00000000-0000-0000-0000-000000000000/extend`, { method: 'PATCH' }))
        .status,
      404,
    );

    const first = (await whoami({ Cookie: kratos.cookieHeaderFor(s) })).headers.get('set-cookie') ?? '';
    const second = (await whoami({ Cookie: kratos.cookieHeaderFor(s) })).headers.get('set-cookie') ?? '';
    assert.match(first, new RegExp(`^${kratos.cookieName}=[^;]+; Path=/`));
    assert.match(second, new RegExp(`^${kratos.cookieName}=[^;]+; Path=/`));
    assert.notEqual(first, second, 'a fresh nonce each time');
    const fresh = first.slice(kratos.cookieName.length + 1, first.indexOf(';'));
    assert.equal((await whoami({ Cookie: `${kratos.cookieName}=${fresh}` })).headers.get('set-cookie'), null);
    assert.equal(
      (await whoami({ 'X-Session-Token': s.token })).headers.get('set-cookie'),
      null,
      'a token is never renewed',
    );
  });

  test('aal1 policy: an aal1 session of a TOTP identity passes; an aal0 session is refused', async () => {
    const identity = kratos.addIdentity({ credentials: TOTP });
    assert.equal((await whoami({ 'X-Session-Token': kratos.createSession(identity).token })).status, 200);
    const aal0 = kratos.createSession(identity, { methods: [] });
    const answer = await whoami({ 'X-Session-Token': aal0.token });
    assert.equal(answer.status, 403);
    assert.equal(answer.headers.get('ory-error-id'), 'session_aal2_required');
  });

  test('session AAL: aal2 needs an aal1 and an aal2 entry', async () => {
    const identity = kratos.addIdentity();
    const cases: Array<[CreatedSession, string]> = [
      [kratos.createSession(identity, { methods: AAL2_METHODS }), 'aal2'],
      [kratos.createSession(identity, { methods: [{ method: 'totp', aal: 'aal2' }] }), 'aal1'],
      [kratos.createSession(identity), 'aal1'],
    ];
    for (const [s, aal] of cases) {
      assert.equal((await whoami({ 'X-Session-Token': s.token })).json()['authenticator_assurance_level'], aal);
    }
  });

  test('highest_available: available AAL per credential type (§5.2)', async () => {
    kratos.setRequiredAal('highest_available');
    const password = { identifiers: ['x@example.com'] };
    const cases: Array<[string, EmulatorCredentials, number]> = [
      ['password only', { password }, 200],
      [
        'webauthn passwordless only',
        { webauthn: { credentials: [{ id: 'k1', is_passwordless: true }], identifiers: ['x@example.com'] } },
        200,
      ],
      ['webauthn security key', { password, webauthn: { credentials: [{ id: 'k1', is_passwordless: false }] } }, 403],
      [
        'lookup codes, all used',
        { password, lookup_secret: { recovery_codes: [{ code: 'a1', used_at: '2024-01-01T00:00:00Z' }] } },
        403,
      ],
      ['empty lookup codes', { password, lookup_secret: { recovery_codes: [] } }, 200],
      ['totp with empty url', { password, totp: { totp_url: '' } }, 200],
      ['totp with unparseable url', { password, totp: { totp_url: 'not a url' } }, 200],
      ['totp without a first factor', { totp: TOTP.totp! }, 403],
      [
        'code without mfa_enabled',
        { password, code: { addresses: [{ channel: 'email', address: 'x@example.com' }] } },
        200,
      ],
    ];
    for (const [label, credentials, expected] of cases) {
      const s = kratos.createSession(kratos.addIdentity({ credentials }));
      assert.equal((await whoami({ 'X-Session-Token': s.token })).status, expected, label);
    }
  });

  test('highest_available: an aal0 session of a password-only identity passes (available AAL is not aal2)', async () => {
    kratos.setRequiredAal('highest_available');
    const s = kratos.createSession(kratos.addIdentity(), { methods: [] });
    const answer = await whoami({ 'X-Session-Token': s.token });
    assert.equal(answer.status, 200);
    assert.equal(answer.json()['authenticator_assurance_level'], 'aal0');
  });

  test('code credential counts only with codeMfaEnabled, and a stored aal2 stays trusted (§5.3)', async () => {
    kratos.setRequiredAal('highest_available');
    const identity = kratos.addIdentity({
      credentials: {
        password: { identifiers: ['c@example.com'] },
        code: { addresses: [{ channel: 'sms', address: '+15550100' }] },
      },
    });
    const s = kratos.createSession(identity);
    assert.equal((await whoami({ 'X-Session-Token': s.token })).status, 200);

    kratos.setCodeMfaEnabled(true);
    assert.equal((await whoami({ 'X-Session-Token': s.token })).status, 403);

    // whoami wrote available_aal=aal2 and trusts it without recomputing …
    kratos.setCodeMfaEnabled(false);
    assert.equal((await whoami({ 'X-Session-Token': s.token })).status, 403);
    // … until the next session activation recomputes it.
    kratos.createSession(identity);
    assert.equal((await whoami({ 'X-Session-Token': s.token })).status, 200);
  });

  test('kratosVersion v1.3.1: with code MFA every identity is aal2-available; /admin/version names the release', async () => {
    const old = await KratosEmulator.start({
      kratosVersion: 'v1.3.1',
      codeMfaEnabled: true,
      requiredAal: 'highest_available',
    });
    try {
      const s = old.createSession(old.addIdentity({ credentials: { password: { identifiers: ['n@example.com'] } } }));
      assert.equal(
        (await fetch(`${old.publicUrl}/sessions/whoami`, { headers: { 'X-Session-Token': s.token } })).status,
        403,
      );
      assert.deepEqual(await (await fetch(`${old.adminUrl}/admin/version`)).json(), { version: 'v1.3.1' });
    } finally {
      await old.stop();
    }
    assert.deepEqual(await (await fetch(`${kratos.adminUrl}/admin/version`)).json(), { version: 'v26.2.0' });
  });

  test('code credential with only empty addresses does not count even with codeMfaEnabled', async () => {
    kratos.setRequiredAal('highest_available');
    kratos.setCodeMfaEnabled(true);
    const s = kratos.createSession(
      kratos.addIdentity({
        credentials: {
          password: { identifiers: ['e@example.com'] },
          code: { addresses: [{ channel: 'email', address: '' }] },
        },
      }),
    );
    assert.equal((await whoami({ 'X-Session-Token': s.token })).status, 200);
  });

  test('enrolling TOTP later makes existing aal1 sessions fail highest_available', async () => {
    kratos.setRequiredAal('highest_available');
    const s = passwordSession();
    assert.equal((await whoami({ 'X-Session-Token': s.token })).status, 200);
    kratos.setCredentials(s.identityId, TOTP);
    assert.equal((await whoami({ 'X-Session-Token': s.token })).status, 403);
  });
});

describe('200 responses (§2)', () => {
  test('headers on GET, and Cache-Control only on GET', async () => {
    const s = passwordSession();
    const get = await whoami({ 'X-Session-Token': s.token });
    assert.equal(get.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(get.headers.get('x-kratos-authenticated-identity-id'), s.identityId);
    assert.equal(get.headers.get('cache-control'), 'private, no-cache, no-store, must-revalidate');
    assert.equal(get.headers.get('ory-error-id'), null);

    const post = await whoami({ 'X-Session-Token': s.token }, { method: 'POST' });
    assert.equal(post.status, 200);
    assert.equal(post.headers.get('cache-control'), null);
    assert.equal((await whoami({}, { method: 'POST' })).headers.get('cache-control'), null);
    assert.equal((await whoami()).headers.get('cache-control'), 'private, no-cache, no-store, must-revalidate');
  });

  test('every method reaches whoami; HEAD gets headers without a body', async () => {
    const s = passwordSession();
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      assert.equal((await whoami({ 'X-Session-Token': s.token }, { method })).status, 200, method);
    }
    const head = await whoami({ 'X-Session-Token': s.token }, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(head.headers.get('x-kratos-authenticated-identity-id'), s.identityId);
    assert.ok(Number(head.headers.get('content-length')) > 0);
  });

  test('session JSON: Go field order, no secrets, RFC3339 times, whoami never extends expires_at', async () => {
    const identityId = kratos.addIdentity({ traits: { email: 'shape@example.com' } });
    const s = kratos.createSession(identityId);
    const first = (await whoami({ 'X-Session-Token': s.token })).json();
    assert.deepEqual(Object.keys(first), [
      'id',
      'active',
      'expires_at',
      'authenticated_at',
      'authenticator_assurance_level',
      'authentication_methods',
      'issued_at',
      'identity',
      'devices',
    ]);
    assert.equal(first['active'], true);
    const identity = first['identity'] as Record<string, unknown>;
    assert.deepEqual(Object.keys(identity), [
      'id',
      'schema_id',
      'schema_url',
      'state',
      'state_changed_at',
      'traits',
      'metadata_public',
      'created_at',
      'updated_at',
      'organization_id',
    ]);
    assert.equal(identity['schema_url'], `${kratos.publicUrl}/schemas/ZGVmYXVsdA`);
    assert.deepEqual(identity['traits'], { email: 'shape@example.com' });
    assert.equal(identity['metadata_public'], null);
    assert.equal(identity['organization_id'], null);
    assert.match(String(first['expires_at']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const [method] = first['authentication_methods'] as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(method ?? {}), ['method', 'aal', 'completed_at']);
    assert.equal((first['devices'] as unknown[]).length, 1);

    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = (await whoami({ 'X-Session-Token': s.token })).json();
    assert.equal(second['expires_at'], first['expires_at']);
  });

  test('ids and tokens look like Kratos ones', () => {
    const s = passwordSession();
    const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    assert.match(s.id, uuidV4);
    assert.match(s.identityId, uuidV4);
    assert.match(s.token, /^ory_st_[A-Za-z0-9]{32}$/);
    assert.equal(kratos.cookieHeaderFor(s), `ory_kratos_session=${s.cookie}`);
  });

  test('an unknown tokenize_as template is a 400 after the AAL check (§2.3)', async () => {
    const s = passwordSession();
    const answer = await call(`${kratos.publicUrl}/sessions/whoami?tokenize_as=jwt`, {
      headers: { 'X-Session-Token': s.token },
    });
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.json(), {
      error: {
        code: 400,
        status: 'Bad Request',
        reason: 'Unable to find tokenizer template "jwt".',
        message: 'The request was malformed or contained invalid parameters',
      },
    });
  });
});

describe('other public routes', () => {
  test('health endpoints answer on both ports; unknown paths are JSON 404s', async () => {
    for (const url of [
      `${kratos.publicUrl}/health/ready`,
      `${kratos.publicUrl}/health/alive`,
      `${kratos.adminUrl}/admin/health/ready`,
      `${kratos.adminUrl}/health/alive`,
    ]) {
      const answer = await call(url);
      assert.equal(answer.status, 200, url);
      assert.deepEqual(answer.json(), { status: 'ok' });
    }
    assert.equal(kratos.count('health'), 4);
    const missing = await call(`${kratos.publicUrl}/sessions/whoami/extra`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json(), {
      error: { code: 404, status: 'Not Found', message: 'Unable to locate the resource' },
    });
    assert.equal(kratos.requests.at(-1)?.endpoint, 'other');
  });
});

describe('admin identity endpoint (§6.1)', () => {
  const full: EmulatorCredentials = {
    password: { identifiers: ['admin@example.com'] },
    totp: { totp_url: 'otpauth://totp/x?secret=ABC' },
    lookup_secret: { recovery_codes: [{ code: 'c0de' }] },
    webauthn: { credentials: [{ id: 'key-1', is_passwordless: false, display_name: 'YubiKey' }] },
    code: { addresses: [{ channel: 'email', address: 'admin@example.com' }] },
  };

  test('credentials are listed without config unless included', async () => {
    const id = kratos.addIdentity({ credentials: full });
    const body = (await adminIdentity(id)).json();
    assert.deepEqual(Object.keys(body), [
      'id',
      'credentials',
      'schema_id',
      'schema_url',
      'state',
      'state_changed_at',
      'traits',
      'metadata_public',
      'metadata_admin',
      'created_at',
      'updated_at',
      'organization_id',
    ]);
    assert.equal(body['metadata_admin'], null);
    assert.equal('available_aal' in body, false);
    const credentials = body['credentials'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(credentials), ['code', 'lookup_secret', 'password', 'totp', 'webauthn']);
    for (const [type, credential] of Object.entries(credentials)) {
      assert.equal(credential['type'], type);
      assert.equal('config' in credential, false, type);
      assert.deepEqual(Object.keys(credential), ['type', 'identifiers', 'version', 'created_at', 'updated_at']);
    }
    assert.deepEqual(credentials['password']?.['identifiers'], ['admin@example.com']);
    assert.deepEqual(credentials['totp']?.['identifiers'], [id]);
  });

  test('include_credential declassifies exactly the listed types', async () => {
    const id = kratos.addIdentity({ credentials: full });
    const answer = await adminIdentity(
      id,
      '?include_credential=totp&include_credential=webauthn&include_credential=lookup_secret&include_credential=code',
    );
    assert.equal(answer.status, 200);
    const credentials = answer.json()['credentials'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(credentials['totp']?.['config'], { totp_url: 'otpauth://totp/x?secret=ABC' });
    assert.deepEqual(credentials['lookup_secret']?.['config'], { recovery_codes: [{ code: 'c0de', used_at: null }] });
    assert.deepEqual(credentials['code']?.['config'], {
      addresses: [{ channel: 'email', address: 'admin@example.com' }],
    });
    const webauthn = credentials['webauthn']?.['config'] as {
      credentials: Array<Record<string, unknown>>;
      user_handle: string;
    };
    assert.equal(webauthn.credentials[0]?.['id'], 'key-1');
    assert.equal(webauthn.credentials[0]?.['is_passwordless'], false);
    assert.equal(webauthn.credentials[0]?.['display_name'], 'YubiKey');
    assert.equal(typeof webauthn.user_handle, 'string');
    assert.equal('config' in (credentials['password'] ?? {}), false);

    const withPassword = (await adminIdentity(id, '?include_credential=password')).json();
    const password = (withPassword['credentials'] as Record<string, Record<string, unknown>>)['password'];
    assert.match(String((password?.['config'] as Record<string, unknown>)['hashed_password']), /^\$argon2id\$/);
  });

  test('a webauthn credential without keys has only a user_handle (as Kratos v1.3.1 stores it) and counts for nothing', async () => {
    const id = kratos.addIdentity({
      credentials: {
        password: { identifiers: ['nokey@example.com'] },
        webauthn: { credentials: [], identifiers: ['nokey@example.com'] },
      },
    });
    const credentials = (await adminIdentity(id, '?include_credential=webauthn')).json()['credentials'] as Record<
      string,
      Record<string, unknown>
    >;
    assert.deepEqual(Object.keys(credentials['webauthn']?.['config'] as Record<string, unknown>), ['user_handle']);
    assert.deepEqual(credentials['webauthn']?.['identifiers'], ['nokey@example.com']);
  });

  test('an identity without credentials has no credentials key', async () => {
    const id = kratos.addIdentity({ credentials: {} });
    assert.equal('credentials' in (await adminIdentity(id)).json(), false);
  });

  test('a bad include_credential value is a 400', async () => {
    const id = kratos.addIdentity();
    for (const query of ['?include_credential=secrets', '?include_credential=totp,password', '?include_credential=']) {
      const answer = await adminIdentity(id, query);
      assert.equal(answer.status, 400, query);
      assert.equal((answer.json()['error'] as Record<string, unknown>)['code'], 400);
    }
    assert.deepEqual((await adminIdentity(id, '?include_credential=passkey&include_credential=bogus')).json(), {
      error: {
        code: 400,
        status: 'Bad Request',
        reason: 'Invalid value `bogus` for parameter `include_credential`.',
        message: 'The request was malformed or contained invalid parameters',
      },
    });
  });

  test('unknown id → exact 404; the /admin prefix is optional', async () => {
    const missing = await adminIdentity('00000000-0000-4000-8000-000000000000');
    assert.equal(missing.status, 404);
    assert.equal(missing.text, '{"error":{"code":404,"status":"Not Found","message":"Unable to locate the resource"}}');
    assert.equal(missing.headers.get('content-type'), 'application/json');

    const id = kratos.addIdentity();
    const unprefixed = await call(`${kratos.adminUrl}/identities/${id}`);
    assert.equal(unprefixed.status, 200);
    assert.equal(unprefixed.json()['id'], id);
    assert.equal(kratos.count('identity'), 2);
  });

  test('adminToken: missing or wrong Bearer → 401, right one → 200, health stays open', async () => {
    const guarded = await KratosEmulator.start({ adminToken: 's3cret' });
    try {
      const id = guarded.addIdentity();
      const url = `${guarded.adminUrl}/admin/identities/${id}`;
      const refused: Array<Record<string, string>> = [
        {},
        { Authorization: 'Bearer wrong' },
        { Authorization: 's3cret' },
      ];
      for (const headers of refused) {
        const answer = await call(url, { headers });
        assert.equal(answer.status, 401);
        assert.equal((answer.json()['error'] as Record<string, unknown>)['code'], 401);
      }
      assert.equal((await call(url, { headers: { Authorization: 'Bearer s3cret' } })).status, 200);
      assert.equal((await call(`${guarded.adminUrl}/health/ready`)).status, 200);
    } finally {
      await guarded.stop();
    }
  });
});

describe('faults and latency', () => {
  test('status500 with a count answers a herodot 500 that many times, then recovers', async () => {
    const s = passwordSession();
    kratos.fail('whoami', { mode: 'status500', count: 2 });
    for (let i = 0; i < 2; i++) {
      const answer = await whoami({ 'X-Session-Token': s.token });
      assert.equal(answer.status, 500);
      const error = answer.json()['error'] as Record<string, unknown>;
      assert.equal(error['code'], 500);
      assert.equal(error['status'], 'Internal Server Error');
      assert.equal(typeof error['message'], 'string');
    }
    assert.equal((await whoami({ 'X-Session-Token': s.token })).status, 200);
    assert.equal(kratos.count('whoami'), 3);
  });

  test('a fault without count lasts until cleared, and only hits its endpoint', async () => {
    kratos.fail('health', { mode: 'status500' });
    for (let i = 0; i < 3; i++) assert.equal((await call(`${kratos.publicUrl}/health/ready`)).status, 500);
    assert.equal((await whoami()).status, 401);
    kratos.clearFaults();
    assert.equal((await call(`${kratos.publicUrl}/health/ready`)).status, 200);
  });

  test('hang never answers (the client times out)', { timeout: 5000 }, async () => {
    kratos.fail('whoami', { mode: 'hang', count: 1 });
    await assert.rejects(
      fetch(`${kratos.publicUrl}/sessions/whoami`, { signal: AbortSignal.timeout(200) }),
      (err: Error) => err.name === 'TimeoutError',
    );
    assert.equal((await whoami()).status, 401);
  });

  test('garbage is a 200 labelled JSON whose body is not JSON', async () => {
    kratos.fail('identity', { mode: 'garbage', count: 1 });
    const res = await fetch(`${kratos.adminUrl}/admin/identities/${kratos.addIdentity()}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    await assert.rejects(res.json(), SyntaxError);
  });

  test('reset drops the connection without an answer', async () => {
    kratos.fail('whoami', { mode: 'reset', count: 1 });
    await assert.rejects(fetch(`${kratos.publicUrl}/sessions/whoami`), TypeError);
    assert.equal((await whoami()).status, 401);
  });

  test('latency delays the answer of its endpoint only', async () => {
    kratos.setLatency('whoami', 150);
    const started = Date.now();
    assert.equal((await whoami()).status, 401);
    assert.ok(Date.now() - started >= 140, `took ${Date.now() - started}ms`);
    const quick = Date.now();
    await call(`${kratos.publicUrl}/health/alive`);
    assert.ok(Date.now() - quick < 140);
  });
});

describe('request recording', () => {
  test('records endpoint, method, url and headers of every request on both ports', async () => {
    const s = passwordSession();
    await whoami({ 'X-Session-Token': s.token, 'X-Request-ID': 'trace-1' }, { method: 'POST' });
    await adminIdentity(s.identityId, '?include_credential=totp');
    await call(`${kratos.publicUrl}/nope`);
    assert.equal(kratos.requests.length, 3);
    const [first, second, third] = kratos.requests;
    assert.equal(first?.endpoint, 'whoami');
    assert.equal(first?.method, 'POST');
    assert.equal(first?.url, '/sessions/whoami');
    assert.equal(first?.headers['x-session-token'], s.token);
    assert.equal(first?.headers['x-request-id'], 'trace-1');
    assert.equal(first?.headers['cookie'], undefined);
    assert.equal(second?.endpoint, 'identity');
    assert.equal(new URL(second?.url ?? '', 'http://x').searchParams.getAll('include_credential').join(), 'totp');
    assert.equal(third?.endpoint, 'other');
    assert.equal(kratos.count('whoami'), 1);
    assert.equal(kratos.count('identity'), 1);
    kratos.clearRequests();
    assert.equal(kratos.requests.length, 0);
    assert.equal(kratos.count('whoami'), 0);
  });
});

describe('lifecycle', () => {
  test('keep-alive connections are reused', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (): Promise<boolean> =>
      new Promise((resolve, reject) => {
        const req = http.get(`${kratos.publicUrl}/health/ready`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(req.reusedSocket));
        });
        req.on('error', reject);
      });
    try {
      assert.equal(await get(), false);
      assert.equal(await get(), true);
    } finally {
      agent.destroy();
    }
  });

  test('stop() closes idle keep-alive and hanging connections at once', { timeout: 5000 }, async () => {
    const short = await KratosEmulator.start();
    assert.equal((await call(`${short.publicUrl}/health/ready`)).status, 200); // leaves an idle keep-alive socket
    short.fail('whoami', { mode: 'hang' });
    const hanging = fetch(`${short.publicUrl}/sessions/whoami`);
    hanging.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await short.stop();
    assert.ok(Date.now() - started < 1000, `stop took ${Date.now() - started}ms`);
    await assert.rejects(hanging);
    await assert.rejects(fetch(`${short.publicUrl}/health/ready`));
  });

  test('runs standalone on the ports given by the environment', { timeout: 5000 }, async () => {
    const script = path.join(__dirname, 'support', 'kratos-emulator.js');
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, EMULATOR_PUBLIC_PORT: '0', EMULATOR_ADMIN_PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      const match = /public=(\S+) admin=(\S+)/.exec(String(line));
      assert.ok(match, String(line));
      assert.equal((await call(`${match[1]}/health/ready`)).status, 200);
      assert.equal((await call(`${match[2]}/admin/health/alive`)).status, 200);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
