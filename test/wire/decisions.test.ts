/** Every row of the README's decision table, through the gRPC wire with Envoy's official protos. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  deniedHeader,
  deniedJson,
  httpStatusOf,
  metadataOf,
  upstreamHeaders,
  type OfficialCheckResponse,
} from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import { AAL1, AAL2, NAVIGATE, TOTP, XHR } from '../support/fixtures';

let h: Harness;
let login: string;
before(async () => {
  h = await startHarness({ config: { policy: { rules: [{ name: 'internal', paths: ['/internal/*'], deny: true }] } } });
  login = `${h.emulator.publicUrl}/self-service/login/browser`;
});
after(() => h.close());

function assertDenied(response: OfficialCheckResponse, httpStatus: number, grpcCode: number): void {
  assert.equal(response.status?.code, grpcCode, 'gRPC status code inside the CheckResponse');
  assert.equal(response.http_response, 'denied_response');
  assert.equal(httpStatusOf(response), httpStatus);
}

describe('allowed', () => {
  test('a cookie whose session meets the highest available AAL passes with the three identity headers', async () => {
    const identity = h.emulator.addIdentity({ credentials: TOTP });
    const session = h.newSession(identity, { methods: AAL2 });
    const response = await h.client.check({
      path: '/dashboard',
      headers: { ...NAVIGATE, cookie: h.emulator.cookieHeaderFor(session) },
    });
    assert.equal(response.status?.code, 0);
    assert.equal(response.http_response, 'ok_response');
    assert.deepEqual(upstreamHeaders(response), {
      'x-kratos-identity-id': identity,
      'x-kratos-session-id': session.id,
      'x-kratos-aal': 'aal2',
    });
    for (const option of response.ok_response?.headers ?? [])
      assert.deepEqual(option.append, { value: false }, `${option.header.key} must overwrite`);
    assert.deepEqual(metadataOf(response), {
      identity_id: identity,
      session_id: session.id,
      aal: 'aal2',
      credential: 'cookie',
      decision: 'allow',
      reason: 'ok',
      policy: 'default',
    });
  });

  test('a session token at aal1 passes although the identity has a second factor', async () => {
    const identity = h.emulator.addIdentity({ credentials: TOTP });
    const session = h.newSession(identity, { methods: AAL1 });
    const response = await h.client.check({ headers: { 'x-session-token': session.token } });
    assert.equal(httpStatusOf(response), 200);
    assert.equal(upstreamHeaders(response)['x-kratos-aal'], 'aal1');
    assert.equal(metadataOf(response).credential, 'token');
  });

  test('a cookie at aal1 passes when the identity has no second factor', async () => {
    const identity = h.emulator.addIdentity();
    const session = h.newSession(identity, { methods: AAL1 });
    const response = await h.client.check({ headers: { ...NAVIGATE, cookie: h.emulator.cookieHeaderFor(session) } });
    assert.equal(httpStatusOf(response), 200);
    assert.equal(upstreamHeaders(response)['x-kratos-identity-id'], identity);
  });
});

describe('browser navigation without a valid session', () => {
  test('GET without any credential → 302 to the login with return_to', async () => {
    const response = await h.client.check({ path: '/orders?id=7&x=a b', headers: NAVIGATE });
    assertDenied(response, 302, 16);
    assert.equal(
      deniedHeader(response, 'location'),
      `${login}?return_to=${encodeURIComponent('https://app.example.com/orders?id=7&x=a b')}`,
    );
    assert.equal(deniedHeader(response, 'cache-control'), 'no-store');
    assert.equal(metadataOf(response).reason, 'unauthenticated');
  });

  test('POST form navigation with an expired cookie → 303', async () => {
    const identity = h.emulator.addIdentity();
    const session = h.newSession(identity);
    h.emulator.expireSession(session.id);
    const response = await h.client.check({
      method: 'POST',
      path: '/settings',
      headers: { ...NAVIGATE, cookie: h.emulator.cookieHeaderFor(session) },
    });
    assertDenied(response, 303, 16);
    assert.match(
      deniedHeader(response, 'location') ?? '',
      /^http:\/\/127\.0\.0\.1:\d+\/self-service\/login\/browser\?return_to=https%3A%2F%2Fapp\.example\.com%2Fsettings$/,
    );
  });

  test('HEAD navigation → 302', async () => {
    const response = await h.client.check({ method: 'HEAD', headers: NAVIGATE });
    assertDenied(response, 302, 16);
  });

  test('an Accept header preferring text/html counts as navigation without Sec-Fetch-Mode', async () => {
    const response = await h.client.check({ headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assertDenied(response, 302, 16);
  });
});

describe('browser navigation with too low an AAL', () => {
  test('aal1 cookie of an identity with TOTP → 302 to login with aal=aal2 and return_to', async () => {
    const identity = h.emulator.addIdentity({ credentials: TOTP });
    const session = h.newSession(identity, { methods: AAL1 });
    const response = await h.client.check({
      path: '/billing',
      headers: { ...NAVIGATE, cookie: h.emulator.cookieHeaderFor(session) },
    });
    assertDenied(response, 302, 16);
    assert.equal(
      deniedHeader(response, 'location'),
      `${login}?aal=aal2&return_to=${encodeURIComponent('https://app.example.com/billing')}`,
    );
    assert.deepEqual(
      { ...metadataOf(response) },
      {
        identity_id: identity,
        session_id: session.id,
        aal: 'aal1',
        credential: 'cookie',
        decision: 'deny',
        reason: 'aal_too_low',
        policy: 'default',
      },
    );
  });

  test('the same cookie passes right after the step-up (same session id and cookie)', async () => {
    const identity = h.emulator.addIdentity({ credentials: TOTP });
    const session = h.newSession(identity, { methods: AAL1 });
    const cookie = h.emulator.cookieHeaderFor(session);
    assert.equal(httpStatusOf(await h.client.check({ headers: { ...NAVIGATE, cookie } })), 302);
    h.emulator.stepUp(session.id);
    const response = await h.client.check({ headers: { ...NAVIGATE, cookie } });
    assert.equal(httpStatusOf(response), 200);
    assert.equal(upstreamHeaders(response)['x-kratos-aal'], 'aal2');
  });
});

describe('API-style answers', () => {
  test('no credential, XHR → 401 JSON with redirect_browser_to and a Bearer challenge', async () => {
    const response = await h.client.check({ headers: XHR });
    assertDenied(response, 401, 16);
    assert.equal(deniedHeader(response, 'www-authenticate'), 'Bearer realm="kratos-ext-authz"');
    assert.equal(deniedHeader(response, 'content-type'), 'application/json');
    const body = deniedJson(response);
    assert.deepEqual((body.error as Record<string, unknown>).id, 'session_inactive');
    assert.equal((body.error as Record<string, unknown>).code, 401);
    assert.equal((body.error as Record<string, unknown>).status, 'Unauthorized');
    assert.equal(body.redirect_browser_to, `${login}?return_to=${encodeURIComponent('https://app.example.com/')}`);
  });

  test('an unknown session token → 401 with error="invalid_token" and no redirect_browser_to', async () => {
    const response = await h.client.check({
      headers: { authorization: `Bearer ${h.remember('ory_st_doesnotexist0000000000000000')}` },
    });
    assertDenied(response, 401, 16);
    assert.equal(deniedHeader(response, 'www-authenticate'), 'Bearer realm="kratos-ext-authz", error="invalid_token"');
    assert.equal(deniedJson(response).redirect_browser_to, undefined);
  });

  test('a token is answered API-style even when the request looks like a navigation', async () => {
    const response = await h.client.check({
      headers: { ...NAVIGATE, 'x-session-token': h.remember('ory_st_unknownunknownunknown000000') },
    });
    assertDenied(response, 401, 16);
  });

  test('aal1 cookie with XHR, identity with TOTP → 403 shaped like Kratos session_aal2_required', async () => {
    const identity = h.emulator.addIdentity({ credentials: TOTP });
    const session = h.newSession(identity, { methods: AAL1 });
    const response = await h.client.check({
      path: '/api/me',
      headers: { ...XHR, cookie: h.emulator.cookieHeaderFor(session) },
    });
    assertDenied(response, 403, 7);
    const body = deniedJson(response);
    const error = body.error as Record<string, unknown>;
    const expectedUrl = `${login}?aal=aal2&return_to=${encodeURIComponent('https://app.example.com/api/me')}`;
    assert.equal(error.id, 'session_aal2_required');
    assert.equal(error.code, 403);
    assert.equal(error.status, 'Forbidden');
    assert.match(String(error.reason), /second factor/);
    assert.equal(error.message, 'Session does not fulfill the requested Authenticator Assurance Level');
    assert.deepEqual(error.details, { redirect_browser_to: expectedUrl });
    assert.equal(body.redirect_browser_to, expectedUrl);
  });

  test('rule deny → 403 forbidden JSON even with a valid session', async () => {
    const identity = h.emulator.addIdentity();
    const session = h.newSession(identity);
    const response = await h.client.check({ path: '/internal/metrics', headers: { 'x-session-token': session.token } });
    assertDenied(response, 403, 7);
    assert.equal((deniedJson(response).error as Record<string, unknown>).id, 'forbidden');
    assert.equal(metadataOf(response).policy, 'internal');
    assert.equal(metadataOf(response).reason, 'rule_deny');
  });
});

describe('Kratos unavailable', () => {
  test('whoami 500 → 503 with retry-after: 1, JSON, gRPC 14', async () => {
    h.emulator.fail('whoami', { mode: 'status500', count: 1 });
    const identity = h.emulator.addIdentity();
    const session = h.newSession(identity);
    const response = await h.client.check({ headers: { 'x-session-token': session.token } });
    assertDenied(response, 503, 14);
    assert.equal(deniedHeader(response, 'retry-after'), '1');
    assert.equal((deniedJson(response).error as Record<string, unknown>).id, 'kratos_unavailable');
    assert.equal(metadataOf(response).decision, 'error');
  });

  test('admin API failure while checking highest_available → 503', async () => {
    h.emulator.fail('identity', { mode: 'status500', count: 1 });
    const identity = h.emulator.addIdentity({ credentials: TOTP });
    const session = h.newSession(identity, { methods: AAL1 });
    const response = await h.client.check({ headers: { ...NAVIGATE, cookie: h.emulator.cookieHeaderFor(session) } });
    assertDenied(response, 503, 14);
  });
});

describe('malformed requests', () => {
  test('no attributes → 400 JSON, gRPC 3', async () => {
    const response = await h.client.send({});
    assertDenied(response, 400, 3);
    assert.equal((deniedJson(response).error as Record<string, unknown>).id, 'bad_request');
  });

  test('attributes without http → 400', async () => {
    const response = await h.client.send({ attributes: { request: {}, context_extensions: {} } });
    assertDenied(response, 400, 3);
  });
});
