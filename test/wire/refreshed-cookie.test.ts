/**
 * The renewed session cookie (issue #12): when whoami answers a cookie check with a Set-Cookie
 * for the session cookie (after an admin extend, the emulator does as Kratos v1.3.1 does), the
 * answer hands it to the client: OK → response_headers_to_add, step-up / re-authentication
 * denials → denied_response.headers, the HTTP doors → set-cookie lines on their answer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  httpStatusOf,
  metadataOf,
  type OfficialCheckResponse,
  type OfficialHeaderOption,
} from '../support/envoy-client';
import { withHarness, type Harness } from '../support/harness';
import { HTTP_DOORS } from '../support/http-client';
import type { CreatedSession } from '../support/kratos-emulator';
import { NAVIGATE, TOTP, XHR } from '../support/fixtures';

const COOKIE_NAME = 'ory_kratos_session';

function setCookies(options: readonly OfficialHeaderOption[] | undefined): string[] {
  return (options ?? []).filter((option) => option.header.key === 'set-cookie').map((option) => option.header.value);
}

/** The renewed cookie's value, remembered so the harness fails if it ever reaches a log line. */
function renewedValue(h: Harness, line: string | undefined): string {
  assert.ok(line !== undefined && line.startsWith(`${COOKIE_NAME}=`), `a Set-Cookie for ${COOKIE_NAME}: ${line}`);
  assert.match(line, /; Path=\/; Expires=[^;]+; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
  return h.remember(line.slice(COOKIE_NAME.length + 1, line.indexOf(';')));
}

/**
 * A session whose cookie Kratos will renew: created to expire in an hour, then extended (to a day)
 * by the admin API.
 */
function extendedSession(h: Harness, identityId = h.emulator.addIdentity(), authenticatedAt?: Date): CreatedSession {
  const session = h.newSession(identityId, {
    expiresAt: new Date(Date.now() + 3_600_000),
    ...(authenticatedAt ? { authenticatedAt } : {}),
  });
  h.emulator.extendSession(session.id);
  return session;
}

function cookieOf(h: Harness, session: CreatedSession): string {
  return h.emulator.cookieHeaderFor(session);
}

describe('the renewed session cookie over gRPC', () => {
  test('after an admin extend, an allowed navigation carries it in response_headers_to_add, appended; the new cookie then passes without one', () =>
    withHarness({}, async (h) => {
      const session = extendedSession(h);
      const response = await h.client.check({ headers: { ...NAVIGATE, cookie: cookieOf(h, session) } });
      assert.equal(httpStatusOf(response), 200);
      const added = response.ok_response?.response_headers_to_add ?? [];
      assert.equal(added.length, 1);
      // append: true → Envoy adds a line of its own beside the upstream's Set-Cookie.
      assert.deepEqual(added[0]?.append, { value: true });
      const fresh = renewedValue(h, added[0]?.header.value);
      // Never upstream, never in metadata.
      assert.equal(setCookies(response.ok_response?.headers).length, 0);
      assert.ok(!JSON.stringify(metadataOf(response)).includes(fresh));

      const next = await h.client.check({ headers: { ...NAVIGATE, cookie: `${COOKIE_NAME}=${fresh}` } });
      assert.equal(httpStatusOf(next), 200);
      assert.deepEqual(next.ok_response?.response_headers_to_add, []);
      assert.equal(
        h.logs.filter((line) => line.cookie_renewed === true).length,
        1,
        'the log says a cookie was renewed, once',
      );
      // ... and never what it was renewed to: the value is a session credential.
      assert.ok(!JSON.stringify(h.logs).includes(fresh), 'no log line holds the renewed cookie');
    }));

  test('Kratos renews the old cookie at every whoami until the browser uses the new one; each check passes on what Kratos sent', () =>
    withHarness({}, async (h) => {
      const session = extendedSession(h);
      const spec = { headers: { ...XHR, cookie: cookieOf(h, session) } };
      const first = setCookies((await h.client.check(spec)).ok_response?.response_headers_to_add);
      const second = setCookies((await h.client.check(spec)).ok_response?.response_headers_to_add);
      assert.equal(first.length, 1);
      assert.equal(second.length, 1);
      assert.notEqual(renewedValue(h, first[0]), renewedValue(h, second[0]));
    }));

  test('no extend, no Set-Cookie; a token of an extended session never gets one', () =>
    withHarness({}, async (h) => {
      const identityId = h.emulator.addIdentity();
      const plain = h.newSession(identityId);
      assert.deepEqual(
        (await h.client.check({ headers: { ...NAVIGATE, cookie: cookieOf(h, plain) } })).ok_response
          ?.response_headers_to_add,
        [],
      );
      const extended = extendedSession(h, identityId);
      const byToken = await h.client.check({ headers: { 'x-session-token': extended.token } });
      assert.equal(httpStatusOf(byToken), 200);
      assert.deepEqual(byToken.ok_response?.response_headers_to_add, []);
    }));

  test('the session cache keeps the session, never the cookie: a hit after the renewing miss carries none', () =>
    withHarness({ config: { cache: { ttl: '10s' } } }, async (h) => {
      const session = extendedSession(h);
      const spec = { headers: { ...NAVIGATE, cookie: cookieOf(h, session) } };
      assert.equal(setCookies((await h.client.check(spec)).ok_response?.response_headers_to_add).length, 1);
      const hit = await h.client.check(spec);
      assert.equal(httpStatusOf(hit), 200);
      assert.deepEqual(hit.ok_response?.response_headers_to_add, []);
      assert.equal(h.emulator.count('whoami'), 1);
    }));

  test('a coalesced whoami shares its renewed cookie only among checks with the same cookie', () =>
    withHarness({ config: { cache: { ttl: '10s' }, kratos: { timeout: '2s' } } }, async (h) => {
      const mine = extendedSession(h);
      const theirs = extendedSession(h);
      // Long enough for all eight to arrive while the two lookups are out, on a loaded machine too.
      h.emulator.setLatency('whoami', 500);
      const specFor = (session: CreatedSession) => ({ headers: { ...XHR, cookie: cookieOf(h, session) } });
      const answers = await Promise.all([
        ...Array.from({ length: 4 }, () => h.client.check(specFor(mine))),
        ...Array.from({ length: 4 }, () => h.client.check(specFor(theirs))),
      ]);
      assert.equal(h.emulator.count('whoami'), 2, 'one whoami per cookie');
      const identityOf = (response: OfficialCheckResponse) =>
        response.ok_response?.headers.find((option) => option.header.key === 'x-kratos-session-id')?.header.value;
      const cookies = answers.map((response) => setCookies(response.ok_response?.response_headers_to_add));
      for (const [index, response] of answers.entries()) {
        assert.equal(identityOf(response), index < 4 ? mine.id : theirs.id);
        assert.equal(cookies[index]?.length, 1);
      }
      const values = new Set(cookies.map((lines) => renewedValue(h, lines[0])));
      assert.equal(values.size, 2, "the four checks of each cookie got that cookie's renewal");
      assert.equal(cookies[0]?.[0], cookies[3]?.[0]);
      assert.equal(cookies[4]?.[0], cookies[7]?.[0]);
    }));

  test('step-up of the same session: the login redirect and the 403 JSON carry it too', () =>
    withHarness({}, async (h) => {
      const session = extendedSession(h, h.emulator.addIdentity({ credentials: TOTP }));
      const redirect = await h.client.check({ headers: { ...NAVIGATE, cookie: cookieOf(h, session) } });
      assert.equal(httpStatusOf(redirect), 302);
      const headers = redirect.denied_response?.headers ?? [];
      assert.match(headers.find((option) => option.header.key === 'location')?.header.value ?? '', /aal=aal2/);
      assert.equal(setCookies(headers).length, 1);
      renewedValue(h, setCookies(headers)[0]);

      const json = await h.client.check({ headers: { ...XHR, cookie: cookieOf(h, session) } });
      assert.equal(httpStatusOf(json), 403);
      assert.equal(setCookies(json.denied_response?.headers).length, 1);
    }));

  test("re-authentication (max_age) of the same session carries it; a dead session or Kratos's own 403 never does", () =>
    withHarness(
      {
        config: {
          policy: { rules: [{ name: 'recent', paths: ['/recent*'], cookie: { aal: 'aal1', max_age: '5m' } }] },
        },
      },
      async (h) => {
        const identityId = h.emulator.addIdentity();
        const old = extendedSession(h, identityId, new Date(Date.now() - 3_600_000));
        const refresh = await h.client.check({ path: '/recent/x', headers: { ...NAVIGATE, cookie: cookieOf(h, old) } });
        assert.equal(httpStatusOf(refresh), 302);
        assert.match(
          refresh.denied_response?.headers.find((option) => option.header.key === 'location')?.header.value ?? '',
          /refresh=true/,
        );
        renewedValue(h, setCookies(refresh.denied_response?.headers)[0]);

        h.emulator.revokeSession(old.id);
        const dead = await h.client.check({ path: '/recent/x', headers: { ...NAVIGATE, cookie: cookieOf(h, old) } });
        assert.equal(httpStatusOf(dead), 302);
        assert.equal(setCookies(dead.denied_response?.headers).length, 0);

        h.emulator.setRequiredAal('highest_available');
        const refused = extendedSession(h, h.emulator.addIdentity({ credentials: TOTP }));
        const byKratos = await h.client.check({ headers: { ...XHR, cookie: cookieOf(h, refused) } });
        assert.equal(httpStatusOf(byKratos), 403);
        assert.equal(setCookies(byKratos.denied_response?.headers).length, 0);
      },
    ));

  test('an anonymous route never carries it (a shared cache could store a public page with it); the next protected check does', () =>
    withHarness(
      { config: { policy: { rules: [{ name: 'public', paths: ['/public*'], anonymous: true }] } } },
      async (h) => {
        const session = extendedSession(h);
        const spec = { headers: { ...NAVIGATE, cookie: cookieOf(h, session) } };
        const anonymous = await h.client.check({ ...spec, path: '/public/x' });
        assert.equal(httpStatusOf(anonymous), 200);
        assert.equal(
          anonymous.ok_response?.headers.find((option) => option.header.key === 'x-kratos-session-id')?.header.value,
          session.id,
          'the session was looked up',
        );
        assert.deepEqual(anonymous.ok_response?.response_headers_to_add, []);
        renewedValue(
          h,
          setCookies((await h.client.check({ ...spec, path: '/app' })).ok_response?.response_headers_to_add)[0],
        );
      },
    ));
});

describe('the renewed session cookie through the HTTP front doors', () => {
  for (const door of HTTP_DOORS) {
    test(`${door}: the 200 carries it as its own set-cookie line; denials of the same session too`, () =>
      withHarness({}, async (h) => {
        const http = h.http;
        assert.ok(http);
        const session = extendedSession(h);
        const allowed = await http.check(door, { headers: { ...NAVIGATE, cookie: cookieOf(h, session) } });
        assert.equal(allowed.status, 200);
        assert.equal(allowed.setCookie.length, 1);
        renewedValue(h, allowed.setCookie[0]);

        const stepUp = extendedSession(h, h.emulator.addIdentity({ credentials: TOTP }));
        const denied = await http.check(door, { headers: { ...XHR, cookie: cookieOf(h, stepUp) } });
        assert.equal(denied.status, 403);
        assert.equal(denied.setCookie.length, 1);

        const token = await http.check(door, { headers: { 'x-session-token': session.token } });
        assert.equal(token.status, 200);
        assert.deepEqual(token.setCookie, []);
      }));
  }
});
