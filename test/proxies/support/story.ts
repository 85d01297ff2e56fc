/**
 * The core story every real proxy must tell, run through the proxy with its shipped example
 * config in front of an echo app, beside the real service and the Kratos emulator.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from '../../support/harness';
import { AuthzHttpClient, type HttpAnswer } from '../../support/http-client';
import { fetchJwks, verifyJwt, writeSigningKey } from '../../support/jwt';
import { startEchoUpstream, type EchoUpstream } from './echo-upstream';
import { freePort, skipUnlessInstalled, type ProxyProcess } from './proxy-process';
import { AAL1, AAL2, NAVIGATE as NAVIGATE_HEADERS, TOTP, XHR as XHR_HEADERS } from '../../support/fixtures';

const NAVIGATE = Object.entries(NAVIGATE_HEADERS);
const XHR = Object.entries(XHR_HEADERS);

export interface ProxyUnderTest {
  name: string;
  /** Why the proxy cannot run on this machine (the suite is then skipped), or undefined. */
  unavailable(): string | undefined;
  /** Starts the proxy from its example config, in front of `appPort`, asking `authzPort`. */
  start(ports: { authz: number; app: number; proxy: number }, dir: string): Promise<ProxyProcess>;
  /** False when the proxy answers denials with its own body (nginx), not the authorizer's JSON. */
  passesDenialBodies: boolean;
  /** The status the client gets when Kratos is unavailable (with the kratos_unavailable JSON and Retry-After). */
  kratosDownStatus: number;
  /** The status the proxy answers when the authorizer cannot be reached at all. */
  authorizerUnreachable: number;
  /**
   * Whether the session cookie whoami renewed reaches the client, on an allowed request (beside
   * the app's own Set-Cookie) and on a step-up denial of the same session.
   */
  passesRenewedCookie: { allowed: boolean; denied: boolean };
}

const HOST = 'app.example.com';
// Credentials are stripped by default (policy.strip_credentials); /account/* passes them.
const POLICY = {
  rules: [
    { name: 'public', paths: ['/public/*'], anonymous: true },
    { name: 'account-ui', paths: ['/account/*'], strip_credentials: false },
  ],
};
// The names examples/config.yaml's commented example sets, which every shipped proxy config copies.
const IDENTITY = { identity_headers: { 'x-user-email': 'traits.email' } };
const upstreamJwt = () => ({
  upstream_jwt: { issuer: 'https://authz.test', audience: 'app', keys: [writeSigningKey('ES256')] },
});

interface Stack {
  harness: Harness;
  proxy: ProxyProcess;
  client: AuthzHttpClient;
}

export function proxyStory(proxy: ProxyUnderTest): void {
  const missing = proxy.unavailable();
  if (missing !== undefined) {
    test(`${proxy.name}: the real-proxy story`, { skip: skipUnlessInstalled(missing) }, () => assert.fail(missing));
    return;
  }

  describe(`${proxy.name} in front of an app, asking kratos-ext-authz`, () => {
    let app: EchoUpstream;
    let trusted: Stack;
    let untrusted: Stack;
    let dir: string;
    let login: string;

    async function stack(trustedProxies: readonly string[], name: string): Promise<Stack> {
      const harness = await startHarness({
        config: { policy: POLICY, http_authz: { trusted_proxies: trustedProxies }, ...IDENTITY, ...upstreamJwt() },
      });
      assert.ok(harness.service.httpAuthzPort);
      const port = await freePort();
      const process = await proxy.start(
        { authz: harness.service.httpAuthzPort, app: app.port, proxy: port },
        join(dir, name),
      );
      return { harness, proxy: process, client: new AuthzHttpClient(port) };
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `kratos-ext-authz-${proxy.name}-`));
      app = await startEchoUpstream();
      trusted = await stack(['127.0.0.0/8'], 'trusted');
      // The same proxy, but the authorizer trusts only a range it does not come from.
      untrusted = await stack(['10.0.0.0/8'], 'untrusted');
      login = `${trusted.harness.emulator.publicUrl}/self-service/login/browser`;
    });

    after(async () => {
      for (const { harness, proxy: running, client } of [trusted, untrusted]) {
        client.close();
        await running.stop();
        await harness.close();
      }
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A request from a client to the proxy; asserts the app was (or was not) reached. */
    async function visit(
      headers: Array<[string, string]>,
      options: { method?: string; path?: string; reachesApp: boolean; via?: Stack },
    ): Promise<HttpAnswer> {
      const before = app.count();
      const answer = await (options.via ?? trusted).client.send({
        method: options.method ?? 'GET',
        path: options.path ?? '/page?x=1',
        headers: [['host', HOST], ...headers],
      });
      assert.equal(
        app.count() - before,
        options.reachesApp ? 1 : 0,
        options.reachesApp ? 'the app was reached' : 'the app was not reached',
      );
      return answer;
    }

    /** `code`: the body's error.code, when the proxy's status differs from it. */
    function assertJsonDenial(answer: HttpAnswer, status: number, errorId: string, code = status): void {
      assert.equal(answer.status, status);
      assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(answer.headers['cache-control'], 'no-store');
      const body = JSON.parse(answer.body) as { error: { id?: string; code: number } };
      assert.equal(body.error.code, code);
      if (proxy.passesDenialBodies) assert.equal(body.error.id, errorId);
    }

    const cookieOf = (methods: typeof AAL2, credentials?: typeof TOTP) => {
      const harness = trusted.harness;
      const session = harness.newSession(harness.emulator.addIdentity(credentials ? { credentials } : {}), { methods });
      return { session, cookie: harness.emulator.cookieHeaderFor(session) };
    };

    test('no session, browser → 302 to the login with return_to', async () => {
      const answer = await visit(NAVIGATE, { reachesApp: false });
      assert.equal(answer.status, 302);
      assert.equal(answer.headers.location, `${login}?return_to=${encodeURIComponent(`http://${HOST}/page?x=1`)}`);
    });

    test('no session, browser form POST → 303 to the login', async () => {
      const answer = await visit(NAVIGATE, { method: 'POST', path: '/settings', reachesApp: false });
      assert.equal(answer.status, 303);
      assert.equal(answer.headers.location, `${login}?return_to=${encodeURIComponent(`http://${HOST}/settings`)}`);
    });

    test('no session, API → 401 JSON with the Bearer challenge', async () => {
      const answer = await visit(XHR, { reachesApp: false });
      assertJsonDenial(answer, 401, 'session_inactive');
      assert.equal(answer.headers['www-authenticate'], 'Bearer realm="kratos-ext-authz"');
    });

    test('aal1 cookie of an identity with TOTP, browser → 302 step-up (aal=aal2)', async () => {
      const { cookie } = cookieOf(AAL1, TOTP);
      const answer = await visit([...NAVIGATE, ['cookie', cookie]], { reachesApp: false });
      assert.equal(answer.status, 302);
      assert.equal(
        answer.headers.location,
        `${login}?aal=aal2&return_to=${encodeURIComponent(`http://${HOST}/page?x=1`)}`,
      );
    });

    test('aal1 cookie of an identity with TOTP, API → 403', async () => {
      const { cookie } = cookieOf(AAL1, TOTP);
      assertJsonDenial(await visit([...XHR, ['cookie', cookie]], { reachesApp: false }), 403, 'session_aal2_required');
    });

    test('aal2 cookie → the app, with the identity headers, the trait header and the JWT (forged ones overwritten)', async () => {
      const { session, cookie } = cookieOf(AAL2, TOTP);
      const forged: Array<[string, string]> = [
        ['x-kratos-identity-id', 'forged'],
        ['x-kratos-aal', 'aal2-forged'],
        ['x-user-email', 'mallory@example.com'],
        ['x-kratos-jwt', 'forged'],
      ];
      const answer = await visit([...NAVIGATE, ['cookie', cookie], ...forged], { reachesApp: true });
      assert.equal(answer.status, 200);
      const seen = app.last() ?? {};
      assert.equal(seen['x-kratos-identity-id'], session.identityId);
      assert.equal(seen['x-kratos-session-id'], session.id);
      assert.equal(seen['x-kratos-aal'], 'aal2');
      assert.match(seen['x-user-email'] ?? '', /^user-[0-9a-f]{8}@example\.com$/);
      const { payload } = verifyJwt(
        seen['x-kratos-jwt'] ?? '',
        (await fetchJwks(trusted.harness.service.httpPort)).keys,
      );
      assert.equal(payload.sid, session.id);
      assert.equal(payload.aal, 'aal2');
    });

    test('a session whose trait is not header-safe → the app, without the trait header and without the forged one', async () => {
      const harness = trusted.harness;
      const session = harness.newSession(harness.emulator.addIdentity({ traits: { email: 'a\u0007@example.com' } }), {
        methods: AAL1,
      });
      assert.equal(
        (
          await visit(
            [
              ['x-session-token', session.token],
              ['x-user-email', 'mallory@example.com'],
            ],
            { reachesApp: true },
          )
        ).status,
        200,
      );
      assert.equal(app.last()?.['x-kratos-session-id'], session.id);
      assert.equal(app.last()?.['x-user-email'], undefined);
    });

    test('session token at aal1 → the app, x-kratos-aal: aal1', async () => {
      const harness = trusted.harness;
      const session = harness.newSession(harness.emulator.addIdentity({ credentials: TOTP }), { methods: AAL1 });
      assert.equal((await visit([['x-session-token', session.token]], { reachesApp: true })).status, 200);
      assert.equal(app.last()?.['x-kratos-session-id'], session.id);
      assert.equal(app.last()?.['x-kratos-aal'], 'aal1');
    });

    test('anonymous route → the app, and forged identity headers do not reach it', async () => {
      const forged: Array<[string, string]> = [
        ['x-kratos-identity-id', 'forged'],
        ['x-kratos-session-id', 'forged'],
        ['x_kratos_aal', 'aal2'],
        ['x-kratos-jwt', 'forged'],
        ['x-user-email', 'mallory@example.com'],
      ];
      const answer = await visit([...XHR, ...forged], { path: '/public/logo.svg', reachesApp: true });
      assert.equal(answer.status, 200);
      const seen = app.last() ?? {};
      assert.deepEqual(
        Object.keys(seen).filter((name) => /^x[-_](kratos|user)/.test(name)),
        [],
      );
    });

    /** The credential headers as the app received them (the oracle: what the real proxy sent). */
    const credentialsSeen = () => {
      const seen = app.last() ?? {};
      return Object.fromEntries(
        ['cookie', 'x-session-token', 'authorization'].filter((name) => name in seen).map((name) => [name, seen[name]]),
      );
    };
    const aal1Session = () => trusted.harness.newSession(trusted.harness.emulator.addIdentity(), { methods: AAL1 });

    test('the session cookie does not reach the app; its other cookies do, byte for byte and in order', async () => {
      const { cookie } = cookieOf(AAL1);
      assert.equal(
        (await visit([...XHR, ['cookie', `theme=dark; ${cookie};  csrf_token_x="q=1"; lang=en`]], { reachesApp: true }))
          .status,
        200,
      );
      assert.deepEqual(credentialsSeen(), { cookie: 'theme=dark;  csrf_token_x="q=1"; lang=en' });
    });

    test('the session cookie alone: the app gets no Cookie at all', async () => {
      const { cookie } = cookieOf(AAL1);
      assert.equal((await visit([...XHR, ['cookie', cookie]], { reachesApp: true })).status, 200);
      assert.deepEqual(credentialsSeen(), {});
    });

    test('X-Session-Token does not reach the app; an Authorization Kratos did not read does', async () => {
      const session = aal1Session();
      assert.equal(
        (
          await visit([...XHR, ['x-session-token', session.token], ['authorization', 'Bearer app-own-token']], {
            reachesApp: true,
          })
        ).status,
        200,
      );
      assert.deepEqual(credentialsSeen(), { authorization: 'Bearer app-own-token' });
    });

    test("Authorization: Bearer <the Kratos token> does not reach the app; the app's cookies do", async () => {
      const session = aal1Session();
      assert.equal(
        (
          await visit([...XHR, ['authorization', `Bearer ${session.token}`], ['cookie', 'theme=dark']], {
            reachesApp: true,
          })
        ).status,
        200,
      );
      assert.deepEqual(credentialsSeen(), { cookie: 'theme=dark' });
    });

    test('an anonymous route strips the credential too', async () => {
      const { cookie } = cookieOf(AAL1);
      assert.equal(
        (await visit([...XHR, ['cookie', `${cookie}; theme=dark`]], { path: '/public/page', reachesApp: true })).status,
        200,
      );
      assert.deepEqual(credentialsSeen(), { cookie: 'theme=dark' });
    });

    test('a rule with strip_credentials: false passes the credentials as sent', async () => {
      const { cookie } = cookieOf(AAL1);
      assert.equal(
        (
          await visit([...XHR, ['cookie', `theme=dark; ${cookie}`], ['authorization', 'Bearer app-own-token']], {
            path: '/account/settings',
            reachesApp: true,
          })
        ).status,
        200,
      );
      assert.deepEqual(credentialsSeen(), { cookie: `theme=dark; ${cookie}`, authorization: 'Bearer app-own-token' });
    });

    /** An aal1 session Kratos will renew the cookie of: expiring in an hour, then admin-extended. */
    const extendedCookieOf = (credentials?: typeof TOTP) => {
      const harness = trusted.harness;
      const session = harness.newSession(harness.emulator.addIdentity(credentials ? { credentials } : {}), {
        methods: AAL1,
        expiresAt: new Date(Date.now() + 3_600_000),
      });
      harness.emulator.extendSession(session.id);
      return harness.emulator.cookieHeaderFor(session);
    };
    const sessionCookiesOf = (answer: HttpAnswer) =>
      answer.setCookie.filter((line) => line.startsWith(`${trusted.harness.emulator.cookieName}=`));

    test(`a renewed session cookie ${proxy.passesRenewedCookie.allowed ? 'reaches' : 'does not reach'} the client beside the app's own; never the app`, async () => {
      const appCookies = ['app_pref=dark; Path=/', 'app_lang=en; Path=/; HttpOnly'];
      const answer = await visit(
        [
          ...NAVIGATE,
          ['cookie', extendedCookieOf()],
          ...appCookies.map((line): [string, string] => ['x-echo-set-cookie', line]),
        ],
        { reachesApp: true },
      );
      assert.equal(answer.status, 200);
      for (const line of appCookies)
        assert.ok(
          answer.setCookie.includes(line),
          `the app's own ${line} reached the client: ${JSON.stringify(answer.setCookie)}`,
        );
      const renewed = sessionCookiesOf(answer);
      assert.equal(renewed.length, proxy.passesRenewedCookie.allowed ? 1 : 0, JSON.stringify(answer.setCookie));
      for (const line of renewed) {
        assert.match(line, /; Path=\/; Expires=[^;]+; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
        trusted.harness.remember(line.slice(line.indexOf('=') + 1, line.indexOf(';')));
      }
      const seen = app.last() ?? {};
      assert.equal(seen['set-cookie'], undefined, 'no Set-Cookie on the upstream request');
      assert.ok(
        !Object.values(seen).some((value) => renewed.some((line) => value.includes(line.slice(0, line.indexOf(';'))))),
        'the renewed cookie never reaches the app',
      );
    });

    test(`a step-up redirect of a renewed session ${proxy.passesRenewedCookie.denied ? 'carries' : 'does not carry'} the renewed cookie`, async () => {
      const answer = await visit([...NAVIGATE, ['cookie', extendedCookieOf(TOTP)]], { reachesApp: false });
      assert.equal(answer.status, 302);
      assert.match(answer.headers.location ?? '', /aal=aal2/);
      assert.equal(
        sessionCookiesOf(answer).length,
        proxy.passesRenewedCookie.denied ? 1 : 0,
        JSON.stringify(answer.setCookie),
      );
    });

    test('a session token is never answered with a Set-Cookie', async () => {
      const harness = trusted.harness;
      const session = harness.newSession(harness.emulator.addIdentity(), {
        methods: AAL1,
        expiresAt: new Date(Date.now() + 3_600_000),
      });
      harness.emulator.extendSession(session.id);
      const answer = await visit(
        [
          ['x-session-token', session.token],
          ['accept', 'application/json'],
        ],
        { reachesApp: true },
      );
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.setCookie, []);
    });

    test('Kratos unavailable → JSON kratos_unavailable with Retry-After, the app not reached', async () => {
      const harness = trusted.harness;
      const session = harness.newSession(harness.emulator.addIdentity());
      harness.emulator.fail('whoami', { mode: 'status500', count: 1 });
      const answer = await visit(
        [
          ['x-session-token', session.token],
          ['accept', 'application/json'],
        ],
        { reachesApp: false },
      );
      assertJsonDenial(answer, proxy.kratosDownStatus, 'kratos_unavailable', 503);
      assert.equal(answer.headers['retry-after'], '1');
    });

    test('the authorizer cannot be reached → the proxy denies, the app not reached', async () => {
      const nobody = await freePort();
      const port = await freePort();
      const running = await proxy.start({ authz: nobody, app: app.port, proxy: port }, join(dir, 'unreachable'));
      const client = new AuthzHttpClient(port);
      try {
        const before = app.count();
        const answer = await client.send({
          method: 'GET',
          path: '/page',
          headers: [
            ['host', HOST],
            ['accept', 'application/json'],
          ],
        });
        assert.equal(answer.status, proxy.authorizerUnreachable);
        assert.equal(app.count(), before, 'the app was not reached');
      } finally {
        client.close();
        await running.stop();
      }
    });

    test('the proxy is not a trusted peer of the authorizer → 403, the app not reached', async () => {
      const harness = untrusted.harness;
      const session = harness.newSession(harness.emulator.addIdentity());
      assertJsonDenial(
        await visit(
          [
            ['x-session-token', session.token],
            ['accept', 'application/json'],
          ],
          { reachesApp: false, via: untrusted },
        ),
        403,
        'untrusted_proxy',
      );
    });
  });
}
