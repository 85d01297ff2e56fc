// The e2e story, through a real Envoy and a real Ory Kratos (containers or local processes):
// session tokens need aal1, browser cookies the identity's highest available AAL. Each step is a
// subtest of the stack's test and runs only when every earlier step passed.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { API, CookieJar, eventually, field, NAVIGATION, send, stringField, XHR, type Sent } from './http';
import {
  apiPasswordLogin,
  browserLogout,
  browserPasswordLogin,
  browserTotpStepUp,
  credentialTypes,
  enrolTotp,
  registerWithPassword,
  type ApiSession,
} from './kratos';
import type { StoryStack } from './stack';
import { freshTotp } from './totp';

export const SESSION_COOKIE = 'ory_kratos_session';

export function echoedHeaders(sent: Sent): Record<string, unknown> {
  assert.equal(sent.status, 200, `the upstream answered: HTTP ${sent.status} ${sent.text.slice(0, 500)}`);
  const headers = field(sent.json, 'headers');
  assert.ok(headers !== null && typeof headers === 'object', `echo body: ${sent.text.slice(0, 500)}`);
  return headers as Record<string, unknown>;
}

export function assertJsonError(sent: Sent, status: number, id?: string): void {
  assert.equal(sent.status, status, `HTTP ${sent.status} ${sent.text.slice(0, 500)}`);
  assert.match(sent.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(field(sent.json, 'error', 'code'), status);
  if (id !== undefined) assert.equal(field(sent.json, 'error', 'id'), id);
}

/** Runs the story against `stack`; true when every step passed. */
export async function runStory(t: TestContext, stack: StoryStack): Promise<boolean> {
  let failed = false;
  // The flow is one story: a step runs only when every earlier step passed.
  const step = (name: string, body: () => Promise<void>): Promise<void> =>
    t.test(name, { skip: failed ? 'an earlier step failed' : false }, async () => {
      try {
        await body();
      } catch (error) {
        failed = true;
        throw error;
      }
    });

  const base = stack.baseUrl;
  const login = `${stack.browserUrl}/self-service/login/browser`;
  const email = `e2e-${randomUUID()}@example.com`;
  const password = `E2e-${randomUUID()}`;
  let registered: ApiSession | undefined;
  let aal1Token: ApiSession | undefined;
  let totpSecret = '';
  let lastTotpCounter: number | undefined;
  const jar = new CookieJar();
  const appUrl = `${base}/app/dashboard?tab=1`;

  const nextCode = async (): Promise<string> => {
    const { code, counter } = await freshTotp(totpSecret, lastTotpCounter);
    lastTotpCounter = counter;
    return code;
  };

  await step(
    'API flow: register with a password; the session token reaches the upstream with x-kratos-* headers',
    async () => {
      registered = await registerWithPassword(base, email, password);
      assert.equal(registered.aal, 'aal1');
      const sent = await send(`${base}/app/profile`, {
        // A forged identity header must be replaced, never passed on or appended to.
        headers: { ...API, 'x-session-token': registered.token, 'x-kratos-identity-id': 'forged' },
      });
      const headers = echoedHeaders(sent);
      assert.equal(headers['x-kratos-identity-id'], registered.identityId);
      assert.equal(headers['x-kratos-session-id'], registered.sessionId);
      assert.equal(headers['x-kratos-aal'], 'aal1');
    },
  );

  await step(
    'no credential: API request gets 401 JSON; an anonymous rule passes without identity headers',
    async () => {
      assertJsonError(await send(`${base}/app/profile`, { headers: API }), 401);
      const open = echoedHeaders(
        await send(`${base}/health`, { headers: { ...API, 'x-kratos-identity-id': 'forged' } }),
      );
      assert.equal(open['x-kratos-identity-id'], undefined);
    },
  );

  await step('settings API flow: enrol TOTP with the session token (code computed here, RFC 6238)', async () => {
    assert.ok(registered);
    totpSecret = await enrolTotp(base, registered.token, async (secret) => {
      totpSecret = secret;
      return nextCode();
    });
    assert.deepEqual(
      (await credentialTypes(stack.kratosAdminUrl, registered.identityId)).filter(
        (c) => c === 'password' || c === 'totp',
      ),
      ['password', 'totp'],
    );
  });

  await step('session tokens: aal1 is enough, also once the identity has TOTP', async () => {
    assert.ok(registered);
    // The token used for the enrolment (Kratos adds the new factor to that session).
    const same = echoedHeaders(
      await send(`${base}/app/profile`, { headers: { ...API, 'x-session-token': registered.token } }),
    );
    assert.equal(same['x-kratos-identity-id'], registered.identityId);
    // A fresh password-only login: an aal1 token of an identity whose highest AAL is aal2.
    aal1Token = await apiPasswordLogin(base, email, password);
    assert.equal(aal1Token.aal, 'aal1');
    const fresh = echoedHeaders(
      await send(`${base}/app/profile`, { headers: { ...API, 'x-session-token': aal1Token.token } }),
    );
    assert.equal(fresh['x-kratos-identity-id'], registered.identityId);
    assert.equal(fresh['x-kratos-session-id'], aal1Token.sessionId);
    assert.equal(fresh['x-kratos-aal'], 'aal1');
    // Envoy's /admin route names the `admin` policy (aal2 for tokens too).
    assertJsonError(
      await send(`${base}/admin/users`, { headers: { ...API, 'x-session-token': aal1Token.token } }),
      403,
      'session_aal2_required',
    );
  });

  await step(
    'browser flow: password-only login; navigation is redirected (302) to the aal2 login with return_to',
    async () => {
      assert.equal(await browserPasswordLogin(base, jar, email, password), 'aal1');
      assert.ok(jar.get(SESSION_COOKIE), 'Kratos set the session cookie');
      const sent = await send(appUrl, { headers: NAVIGATION, jar });
      assert.equal(sent.status, 302, `HTTP ${sent.status} ${sent.text.slice(0, 500)}`);
      assert.equal(sent.headers.get('location'), `${login}?aal=aal2&return_to=${encodeURIComponent(appUrl)}`);
    },
  );

  await step('browser: XHR with the aal1 cookie gets 403 JSON (session_aal2_required)', async () => {
    const sent = await send(`${base}/app/api/items`, { headers: XHR, jar });
    assertJsonError(sent, 403, 'session_aal2_required');
    assert.match(
      String(field(sent.json, 'redirect_browser_to')),
      new RegExp(`^${login.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\?aal=aal2`),
    );
  });

  await step('browser: after the TOTP step the same browser passes (aal2)', async () => {
    assert.equal(await browserTotpStepUp(base, jar, nextCode), 'aal2');
    // The service caches whoami answers for cache.ttl (2s in envoy/config.yaml).
    const sent = await eventually(
      () => send(appUrl, { headers: NAVIGATION, jar }),
      (s) => s.status === 200,
    );
    const headers = echoedHeaders(sent);
    assert.equal(headers['x-kratos-identity-id'], registered?.identityId);
    assert.equal(headers['x-kratos-aal'], 'aal2');
    assert.equal(echoedHeaders(await send(`${base}/app/api/items`, { headers: XHR, jar }))['x-kratos-aal'], 'aal2');
  });

  await step('Envoy access log shows the ext_authz dynamic metadata', async () => {
    const identityId = registered?.identityId;
    const entry = await eventually(
      async () =>
        (stack.logs.get('envoy') ?? [])
          .filter((line) => line.startsWith('{'))
          .map((line) => {
            try {
              return JSON.parse(line) as unknown;
            } catch {
              return undefined;
            }
          })
          .find((log) => field(log, 'authz_identity_id') === identityId && field(log, 'authz_decision') === 'allow'),
      (found) => found !== undefined,
      10_000,
    );
    assert.ok(entry, `an access log line with authz_identity_id ${String(identityId)}`);
    assert.equal(field(entry, 'authz', 'decision'), 'allow');
    assert.equal(typeof field(entry, 'authz', 'aal'), 'string');
  });

  await step('browser: logout; navigation is redirected to the login again', async () => {
    const revoked = jar.get(SESSION_COOKIE);
    assert.ok(revoked);
    await browserLogout(base, jar);
    assert.equal(jar.get(SESSION_COOKIE), undefined, 'Kratos cleared the session cookie');
    const sent = await send(appUrl, { headers: NAVIGATION, jar });
    assert.equal(sent.status, 302, `HTTP ${sent.status} ${sent.text.slice(0, 500)}`);
    assert.equal(sent.headers.get('location'), `${login}?return_to=${encodeURIComponent(appUrl)}`);
    // A copy of the revoked cookie stops working as well (after at most cache.ttl).
    const replay = new CookieJar();
    replay.set(SESSION_COOKIE, revoked);
    const replayed = await eventually(
      () => send(appUrl, { headers: NAVIGATION, jar: replay }),
      (s) => s.status === 302,
    );
    assert.equal(replayed.status, 302);
  });

  await step('service stopped: it drains and exits 0 on SIGTERM; Envoy answers 503 (fail closed)', async () => {
    assert.ok(aal1Token);
    assert.equal(await stack.stopExtAuthz(20_000), 0, 'exit code after docker stop (SIGTERM)');
    const sent = await eventually(
      () => send(`${base}/app/profile`, { headers: { ...API, 'x-session-token': aal1Token?.token ?? '' } }),
      (s) => s.status === 503,
    );
    assert.equal(sent.status, 503);
    // Envoy's own status_on_error answer: the upstream (which echoes JSON) was never reached.
    assert.equal(field(sent.json, 'headers'), undefined, `not the upstream's answer: ${sent.text.slice(0, 300)}`);
    // Kratos's own routes do not depend on the authorizer.
    const flow = await send(`${base}/self-service/login/api`, { headers: API });
    assert.equal(flow.status, 200);
    assert.equal(typeof stringField(flow.json, 'id'), 'string');
  });
  return !failed;
}
