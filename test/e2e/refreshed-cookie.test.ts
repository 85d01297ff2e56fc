// The renewed session cookie (issue #12) through a real Envoy (gRPC ext_authz, envoy/envoy.yaml)
// and a real Ory Kratos, once per pinned Envoy: after an admin extend
// (PATCH /admin/sessions/{id}/extend) Kratos's whoami answers the old cookie with a Set-Cookie
// for a new one; the service hands it to the browser with response_headers_to_add (beside the
// app's own Set-Cookie) or on the step-up redirect, and the browser's next request, with the new
// cookie, passes without one. A session token is never answered with a Set-Cookie.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { API, CookieJar, field, NAVIGATION, send, stringField, type Sent } from './http';
import { apiPasswordLogin, browserPasswordLogin, enrolTotp, registerWithPassword } from './kratos';
import { onEveryStack } from './run-stack';
import type { Stack } from './stack';
import { echoedHeaders, SESSION_COOKIE } from './story';
import { freshTotp } from './totp';

const APP_COOKIE = 'app_pref=dark; Path=/';

function sessionCookieLines(sent: Sent): string[] {
  return sent.headers.getSetCookie().filter((line) => line.startsWith(`${SESSION_COOKIE}=`));
}

/** The session id behind the cookie in `jar`, asked before any extend (so Kratos renews nothing here). */
async function sessionIdOf(stack: Stack, jar: CookieJar): Promise<string> {
  const whoami = await send(`${stack.baseUrl}/sessions/whoami`, { headers: API, jar });
  assert.equal(whoami.status, 200, whoami.text);
  assert.deepEqual(sessionCookieLines(whoami), [], 'an unextended session: Kratos renews nothing');
  return stringField(whoami.json, 'id');
}

async function extend(stack: Stack, sessionId: string): Promise<void> {
  const extended = await send(`${stack.kratosAdminUrl}/admin/sessions/${encodeURIComponent(sessionId)}/extend`, {
    method: 'PATCH',
    headers: API,
  });
  // Kratos v1.3.1 answers 200 with the session (seen); newer releases may answer 204.
  assert.ok(
    extended.status === 200 || extended.status === 204,
    `extend: HTTP ${extended.status} ${extended.text.slice(0, 300)}`,
  );
}

async function newUser(base: string): Promise<{ email: string; password: string; token: string; identityId: string }> {
  const email = `e2e-${randomUUID()}@example.com`;
  const password = `E2e-${randomUUID()}`;
  const registered = await registerWithPassword(base, email, password);
  return { email, password, token: registered.token, identityId: registered.identityId };
}

async function steps(t: TestContext, stack: Stack): Promise<boolean> {
  let passed = true;
  const step = (name: string, body: () => Promise<void>) =>
    t.test(name, async () => {
      try {
        await body();
      } catch (error) {
        passed = false;
        throw error;
      }
    });
  const base = stack.baseUrl;

  await step(
    "admin extend, then a navigation: the new session cookie reaches the browser beside the app's own; the next request with it passes without one",
    async () => {
      const user = await newUser(base);
      const jar = new CookieJar();
      assert.equal(await browserPasswordLogin(base, jar, user.email, user.password), 'aal1');
      const old = jar.get(SESSION_COOKIE);
      assert.ok(old);
      await extend(stack, await sessionIdOf(stack, jar));

      const renewed = await send(`${base}/app/renewed`, {
        headers: { ...NAVIGATION, 'x-echo-set-cookie': APP_COOKIE },
        jar,
      });
      assert.equal(echoedHeaders(renewed)['x-kratos-identity-id'], user.identityId);
      const lines = sessionCookieLines(renewed);
      assert.equal(
        lines.length,
        1,
        `one Set-Cookie for the session cookie: ${JSON.stringify(renewed.headers.getSetCookie().map((l) => l.slice(0, 40)))}`,
      );
      assert.match(lines[0] ?? '', /; Path=\/; Expires=[^;]+; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
      assert.ok(
        renewed.headers.getSetCookie().includes(APP_COOKIE),
        "the app's own Set-Cookie reached the browser too",
      );
      // Never handed to the app.
      assert.equal(field(renewed.json, 'headers', 'set-cookie'), undefined);
      const fresh = jar.get(SESSION_COOKIE);
      assert.ok(fresh && fresh !== old, 'the cookie jar holds the new cookie');

      const next = await send(`${base}/app/after`, { headers: NAVIGATION, jar });
      assert.equal(echoedHeaders(next)['x-kratos-identity-id'], user.identityId);
      assert.deepEqual(sessionCookieLines(next), [], 'the new cookie needs no renewal');
      // Kratos agrees: the new cookie carries the extended expiry.
      assert.deepEqual(sessionCookieLines(await send(`${base}/sessions/whoami`, { headers: API, jar })), []);
    },
  );

  await step('a step-up redirect of an extended aal1 session carries the new cookie', async () => {
    const user = await newUser(base);
    let counter: number | undefined;
    await enrolTotp(base, user.token, async (secret) => {
      const { code, counter: used } = await freshTotp(secret, counter);
      counter = used;
      return code;
    });
    const jar = new CookieJar();
    assert.equal(await browserPasswordLogin(base, jar, user.email, user.password), 'aal1');
    const old = jar.get(SESSION_COOKIE);
    await extend(stack, await sessionIdOf(stack, jar));
    const redirect = await send(`${base}/app/step-up`, { headers: NAVIGATION, jar });
    assert.equal(redirect.status, 302, redirect.text);
    assert.match(redirect.headers.get('location') ?? '', /aal=aal2/);
    assert.equal(sessionCookieLines(redirect).length, 1);
    assert.notEqual(jar.get(SESSION_COOKIE), old);
  });

  await step('a session token of an extended session is never answered with a Set-Cookie', async () => {
    const user = await newUser(base);
    const api = await apiPasswordLogin(base, user.email, user.password);
    await extend(stack, api.sessionId);
    const sent = await send(`${base}/app/token`, { headers: { ...API, 'x-session-token': api.token } });
    assert.equal(echoedHeaders(sent)['x-kratos-session-id'], api.sessionId);
    assert.deepEqual(sent.headers.getSetCookie(), []);
  });
  return passed;
}

test(
  'e2e: the session cookie Kratos renews after an admin extend reaches the browser through Envoy',
  { timeout: 10 * 60_000 },
  async (t) => {
    await onEveryStack(t, steps);
  },
);
