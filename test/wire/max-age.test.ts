/** Recent authentication per route (max_age), through the gRPC wire with Envoy's official protos. */
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
import { AAL1, NAVIGATE, TOTP, XHR } from '../support/fixtures';

const MINUTE = 60_000;
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * MINUTE);

let h: Harness;
let login: string;
before(async () => {
  h = await startHarness({
    config: {
      policy: {
        rules: [
          {
            name: 'payout',
            paths: ['/settings/payout*'],
            cookie: { aal: 'highest_available', max_age: '5m' },
            token: { aal: 'aal1', max_age: '1h' },
          },
          { name: 'short-form', paths: ['/profile'], cookie: 'highest_available' },
        ],
      },
      cache: { ttl: '10s' },
    },
  });
  login = `${h.emulator.publicUrl}/self-service/login/browser`;
});
after(() => h.close());

const returnTo = (url: string) => `return_to=${encodeURIComponent(url)}`;

function cookieSession(minutes: number, credentials: { credentials?: typeof TOTP } = {}) {
  const session = h.newSession(h.emulator.addIdentity(credentials), {
    methods: AAL1,
    authenticatedAt: minutesAgo(minutes),
  });
  return { session, cookie: h.emulator.cookieHeaderFor(session) };
}

function assertRefreshJson(response: OfficialCheckResponse, location: string): void {
  assert.equal(httpStatusOf(response), 403);
  assert.equal(response.status?.code, 7);
  const body = deniedJson(response) as { error: Record<string, unknown>; redirect_browser_to: string };
  assert.deepEqual(body, {
    error: {
      id: 'session_refresh_required',
      code: 403,
      status: 'Forbidden',
      reason: 'The login session is too old for this resource. Please re-authenticate.',
      message: 'The requested action was forbidden',
      details: { redirect_browser_to: location },
    },
    redirect_browser_to: location,
  });
  assert.equal(deniedHeader(response, 'location'), undefined);
}

describe('max_age on a cookie', () => {
  test('authenticated 4 minutes ago, max_age 5m: allowed with identity headers', async () => {
    const { session, cookie } = cookieSession(4);
    const response = await h.client.check({ path: '/settings/payout', headers: { ...NAVIGATE, cookie } });
    assert.equal(httpStatusOf(response), 200);
    assert.equal(upstreamHeaders(response)['x-kratos-session-id'], session.id);
  });

  test('authenticated 6 minutes ago: browser GET → 302 to login with refresh=true and return_to', async () => {
    const { cookie } = cookieSession(6);
    const response = await h.client.check({ path: '/settings/payout?x=1', headers: { ...NAVIGATE, cookie } });
    assert.equal(httpStatusOf(response), 302);
    assert.equal(response.status?.code, 16);
    assert.equal(
      deniedHeader(response, 'location'),
      `${login}?refresh=true&${returnTo('https://app.example.com/settings/payout?x=1')}`,
    );
    assert.equal(deniedHeader(response, 'cache-control'), 'no-store');
    assert.equal(metadataOf(response).reason, 'refresh_required');
    assert.equal(metadataOf(response).decision, 'deny');
  });

  test('a form POST → 303', async () => {
    const { cookie } = cookieSession(6);
    const response = await h.client.check({
      method: 'POST',
      path: '/settings/payout',
      headers: { ...NAVIGATE, cookie },
    });
    assert.equal(httpStatusOf(response), 303);
  });

  test('too old and an aal1 session of an identity with TOTP → one login asking for both (refresh=true&aal=aal2)', async () => {
    const { cookie } = cookieSession(6, { credentials: TOTP });
    const response = await h.client.check({ path: '/settings/payout', headers: { ...NAVIGATE, cookie } });
    assert.equal(
      deniedHeader(response, 'location'),
      `${login}?refresh=true&aal=aal2&${returnTo('https://app.example.com/settings/payout')}`,
    );
  });

  test('young enough but the AAL is short → the plain step-up, no refresh', async () => {
    const { cookie } = cookieSession(1, { credentials: TOTP });
    const response = await h.client.check({ path: '/settings/payout', headers: { ...NAVIGATE, cookie } });
    assert.equal(
      deniedHeader(response, 'location'),
      `${login}?aal=aal2&${returnTo('https://app.example.com/settings/payout')}`,
    );
    assert.equal(metadataOf(response).reason, 'aal_too_low');
  });

  test("API-style → 403 session_refresh_required shaped like Kratos's privileged-session error", async () => {
    const { cookie } = cookieSession(6);
    const response = await h.client.check({ path: '/settings/payout', headers: { ...XHR, cookie } });
    assertRefreshJson(response, `${login}?refresh=true&${returnTo('https://app.example.com/settings/payout')}`);
  });

  test('other routes and the short form do not look at the age', async () => {
    const { cookie } = cookieSession(24 * 60 - 5);
    for (const path of ['/dashboard', '/profile'])
      assert.equal(httpStatusOf(await h.client.check({ path, headers: { ...NAVIGATE, cookie } })), 200, path);
  });
});

describe('max_age on a token', () => {
  test('token max_age 1h: 50 minutes passes, 70 minutes is a 403 JSON even on a navigation', async () => {
    const young = h.newSession(h.emulator.addIdentity(), { authenticatedAt: minutesAgo(50) });
    assert.equal(
      httpStatusOf(await h.client.check({ path: '/settings/payout', headers: { 'x-session-token': young.token } })),
      200,
    );
    const old = h.newSession(h.emulator.addIdentity(), { authenticatedAt: minutesAgo(70) });
    const response = await h.client.check({
      path: '/settings/payout',
      headers: { ...NAVIGATE, 'x-session-token': old.token },
    });
    assertRefreshJson(response, `${login}?refresh=true&${returnTo('https://app.example.com/settings/payout')}`);
    assert.equal(metadataOf(response).credential, 'token');
  });
});

describe('re-authentication and the cache', () => {
  test('after a refresh login the next check passes at once: a cached session is never too old without asking Kratos', async () => {
    const { session, cookie } = cookieSession(6);
    const spec = { path: '/settings/payout', headers: { ...NAVIGATE, cookie } };
    // Cached by an allowed check on a route without max_age.
    assert.equal(httpStatusOf(await h.client.check({ ...spec, path: '/dashboard' })), 200);
    const before = h.emulator.count('whoami');
    const from = h.logs.length;
    assert.equal(httpStatusOf(await h.client.check(spec)), 302);
    assert.equal(
      h.emulator.count('whoami') - before,
      1,
      'the cached entry was confirmed with Kratos before the redirect',
    );
    // The log line tells what decided, and that the answer came from Kratos, not the cache.
    const line = h.logs.slice(from).find((candidate) => candidate.msg === 'check') ?? {};
    assert.deepEqual(
      { reason: line.reason, cache: line.cache, max_age_s: line.max_age_s, step_up: line.step_up },
      { reason: 'refresh_required', cache: 'miss', max_age_s: 300, step_up: false },
    );
    assert.ok(typeof line.age_s === 'number' && line.age_s >= 360 && line.age_s < 370, String(line.age_s));
    h.emulator.reauthenticate(session.id);
    const passed = await h.client.check(spec);
    assert.equal(httpStatusOf(passed), 200);
    assert.equal(metadataOf(passed).reason, 'ok');
  });
});
