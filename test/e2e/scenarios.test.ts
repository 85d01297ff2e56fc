// End-to-end scenarios beyond the story, on every stack E2E_STACK selects (they stop and restart
// Kratos and run configuration variants, which both kinds of stack offer): CORS
// preflights, path tricks, cookie header lines over HTTP/1.1 and HTTP/2, Kratos down and back,
// a short session lifespan, ext_authz with joined headers. Each Envoy version runs them all.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { API, CookieJar, eventually, field, NAVIGATION, send, XHR } from './http';
import {
  apiPasswordLogin,
  browserCodeStepUp,
  browserPasswordLogin,
  browserRecoveryCodeStepUp,
  credentialTypes,
  enrolRecoveryCodes,
  registerWithPassword,
  type ApiSession,
} from './kratos';
import { stackFactories } from './plans';
import { freePorts } from '../../stack/ports';
import { DelayProxy, latency, NO_FAULT } from './delay-proxy';
import { COURIER_BODY, MailSink } from './mail-sink';
import { http1Raw, http2Get } from './raw-http';
import { withStack } from './run-stack';
import type { Stack, StackFactory, StackPlan, Variant } from './stack';
import { assertJsonError, echoedHeaders, SESSION_COOKIE } from './story';
import { EXT_AUTHZ_TIMEOUT_1S, JOINED_HEADERS } from './variants';

/** Paths an anonymous request may reach the upstream with (the `public` rule of envoy/config.yaml). */
const ANONYMOUS = (path: string): boolean => path === '/' || path === '/health' || path.startsWith('/ui/');

interface User {
  email: string;
  password: string;
  session: ApiSession;
}

async function newUser(base: string): Promise<User> {
  const email = `e2e-${randomUUID()}@example.com`;
  const password = `E2e-${randomUUID()}`;
  return { email, password, session: await registerWithPassword(base, email, password) };
}

/** A new user, logged in with the password in a browser's cookie jar (aal1). */
async function userInBrowser(base: string): Promise<{ user: User; jar: CookieJar }> {
  const user = await newUser(base);
  const jar = new CookieJar();
  assert.equal(await browserPasswordLogin(base, jar, user.email, user.password), 'aal1');
  return { user, jar };
}

/** Runs each scenario as an independent subtest; false when any failed. */
async function scenarios(t: TestContext, entries: [string, () => Promise<void>][]): Promise<boolean> {
  let passed = true;
  for (const [name, body] of entries) {
    await t.test(name, async () => {
      try {
        await body();
      } catch (error) {
        passed = false;
        throw error;
      }
    });
  }
  return passed;
}

async function cookieLines(stack: Stack): Promise<void> {
  const { user, jar } = await userInBrowser(stack.baseUrl);
  const session = jar.get(SESSION_COOKIE);
  assert.ok(session);
  // HTTP/1.1: the session cookie on the second of two Cookie lines.
  const h1 = await http1Raw(stack.baseUrl, 'GET', '/app/two-lines', [
    ['accept', 'application/json'],
    ['cookie', 'theme=dark; lang=en'],
    ['cookie', `${SESSION_COOKIE}=${session}`],
  ]);
  assert.equal(h1.status, 200, h1.body);
  assert.equal(field(JSON.parse(h1.body) as unknown, 'headers', 'x-kratos-identity-id'), user.session.identityId);
  // HTTP/2: every cookie its own header field.
  const h2 = await http2Get(stack.baseUrl, '/app/h2', { accept: 'application/json' }, [
    'theme=dark',
    `${SESSION_COOKIE}=${session}`,
    'lang=en',
  ]);
  assert.equal(h2.status, 200, h2.body);
  assert.equal(field(JSON.parse(h2.body) as unknown, 'headers', 'x-kratos-identity-id'), user.session.identityId);
}

function defaultScenarios(stack: Stack): [string, () => Promise<void>][] {
  const base = stack.baseUrl;
  const origin = new URL(base).origin;
  return [
    [
      "CORS: Envoy answers an allowed origin's preflight itself; any other OPTIONS needs a session",
      async () => {
        const preflight = await http1Raw(base, 'OPTIONS', '/app/items', [
          ['origin', origin],
          ['access-control-request-method', 'POST'],
          ['access-control-request-headers', 'content-type'],
        ]);
        assert.equal(preflight.status, 200, preflight.body);
        assert.equal(preflight.headers['access-control-allow-origin'], origin);
        assert.equal(preflight.headers['access-control-allow-credentials'], 'true');
        assert.equal(preflight.body, '', 'answered by Envoy, not by the upstream');
        for (const [name, lines] of [
          [
            'another origin',
            [
              ['origin', 'http://evil.example'],
              ['access-control-request-method', 'POST'],
            ],
          ],
          ['no Origin', [['access-control-request-method', 'POST']]],
        ] as const) {
          const other = await http1Raw(base, 'OPTIONS', '/app/items', [['accept', 'application/json'], ...lines]);
          assert.equal(other.status, 401, `${name}: HTTP ${other.status} ${other.body}`);
          assert.equal(field(JSON.parse(other.body) as unknown, 'error', 'id'), 'session_inactive', name);
        }
      },
    ],
    [
      'path tricks never reach a protected upstream route without a session',
      async () => {
        const tricks = [
          '/public/../admin',
          '/public/..%2Fadmin',
          '/health/../app/x',
          '/health/..%2fapp/x',
          '/health/%2e%2e/app/x',
          '/%2e%2e/app/x',
          '/health%2F..%2Fapp',
          '//app/x',
          '/health;/../app/x',
          '/health/..;/app/x',
          '/health\\..\\app',
          '/Health/../app',
          '/ui/../admin/x',
          '/ui/%2E%2E/admin',
        ];
        const seen: string[] = [];
        for (const path of tricks) {
          const answer = await http1Raw(base, 'GET', path, [['accept', 'application/json']]);
          let reached: string | undefined;
          try {
            const url = field(JSON.parse(answer.body) as unknown, 'url');
            reached = typeof url === 'string' ? url : undefined;
          } catch {
            reached = undefined;
          }
          seen.push(
            `${path} -> ${answer.status}${reached !== undefined ? ` upstream ${reached}` : ''}${answer.headers.location ? ` location ${answer.headers.location}` : ''}`,
          );
          if (reached !== undefined) {
            assert.ok(
              ANONYMOUS(new URL(reached, 'http://x').pathname),
              `${path} reached the upstream as ${reached} unauthenticated`,
            );
            assert.equal(field(JSON.parse(answer.body) as unknown, 'headers', 'x-kratos-identity-id'), undefined);
          } else {
            assert.ok(
              [301, 302, 307, 308, 400, 401, 404].includes(answer.status),
              `${path}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`,
            );
          }
        }
        process.stderr.write(`path tricks (${stack.description}):\n  ${seen.join('\n  ')}\n`);
      },
    ],
    [
      'the security review through the real Envoy and Kratos: hosts that are not plain, path case, duplicate session cookies',
      async () => {
        const user = await newUser(base);
        const token: [string, string][] = [
          ['accept', 'application/json'],
          ['x-session-token', user.session.token],
        ];
        // The admin rule (hosts: admin.example.com, aal2) refuses this aal1 token; no spelling of
        // the host may fall past it to the default rule.
        const plain = await http1Raw(base, 'GET', '/app/x', [['host', 'admin.example.com'], ...token]);
        assert.equal(plain.status, 403, plain.body);
        for (const host of [
          'admin.example.com:abc',
          'x@admin.example.com',
          'admin.example.com..',
          'admin.example.com:1:2',
        ]) {
          const answer = await http1Raw(base, 'GET', '/app/x', [['host', host], ...token]);
          // Envoy refuses some of these itself (400), the service the rest (400); envoy.yaml's
          // strip_trailing_host_dot turns `admin.example.com..` into `admin.example.com.`, which
          // the service refuses too (a trailing dot is not plain). Never the default rule's 200.
          assert.ok([400, 403].includes(answer.status), `${host}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
          if (answer.status === 403)
            assert.equal(field(JSON.parse(answer.body) as unknown, 'error', 'id'), 'session_aal2_required', host);
        }
        // /UI/x is /ui/x (anonymous) to a case-insensitive upstream and no rule as written: refused.
        const upper = await http1Raw(base, 'GET', '/UI/x', [['accept', 'application/json']]);
        assert.equal(upper.status, 400, upper.body);
        // A stale session cookie (another deployment's, undecodable) in front of the valid one:
        // both are forwarded and the real Kratos takes the one that decodes.
        const jar = new CookieJar();
        assert.equal(await browserPasswordLogin(base, jar, user.email, user.password), 'aal1');
        const session = jar.get(SESSION_COOKIE);
        assert.ok(session);
        const both = await http1Raw(base, 'GET', '/app/stale-first', [
          ['accept', 'application/json'],
          ['cookie', `${SESSION_COOKIE}=MTcwMDAwMDAwMHxzdGFsZS1wYXJlbnQtZG9tYWlufA; theme=dark`],
          ['cookie', `${SESSION_COOKIE}=${session}`],
        ]);
        assert.equal(both.status, 200, both.body);
        assert.equal(
          field(JSON.parse(both.body) as unknown, 'headers', 'x-kratos-identity-id'),
          user.session.identityId,
        );
      },
    ],
    [
      'recovery codes as the only second factor: browser step-up with a code, tokens stay aal1',
      async () => {
        const user = await newUser(base);
        const codes = await enrolRecoveryCodes(base, user.session.token);
        // No TOTP, no WebAuthn key: the recovery codes are the only second factor. Kratos also
        // keeps a `code` credential for the email address (a second factor only with code MFA
        // enabled) and a `webauthn` one holding just a user_handle (no keys), both from the
        // identity schema's identifiers.
        assert.deepEqual(await credentialTypes(stack.kratosAdminUrl, user.session.identityId), [
          'code',
          'lookup_secret',
          'password',
          'webauthn',
        ]);
        const webauthn = await send(
          `${stack.kratosAdminUrl}/admin/identities/${user.session.identityId}?include_credential=webauthn`,
          { headers: API },
        );
        assert.equal(
          field(webauthn.json, 'credentials', 'webauthn', 'config', 'credentials'),
          undefined,
          webauthn.text.slice(0, 500),
        );
        const jar = new CookieJar();
        assert.equal(await browserPasswordLogin(base, jar, user.email, user.password), 'aal1');
        const app = `${base}/app/codes`;
        const navigation = await send(app, { headers: NAVIGATION, jar });
        assert.equal(navigation.status, 302, navigation.text);
        assert.equal(
          navigation.headers.get('location'),
          `${stack.browserUrl}/self-service/login/browser?aal=aal2&return_to=${encodeURIComponent(app)}`,
        );
        assertJsonError(await send(app, { headers: XHR, jar }), 403, 'session_aal2_required');
        // A fresh password-only token (the enrolling session itself became aal2: Kratos adds the
        // new factor to it): aal1 is enough for tokens, also with aal2 available.
        const token = await apiPasswordLogin(base, user.email, user.password);
        assert.equal(
          echoedHeaders(await send(app, { headers: { ...API, 'x-session-token': token.token } }))['x-kratos-aal'],
          'aal1',
        );
        assert.equal(await browserRecoveryCodeStepUp(base, jar, codes[0] ?? ''), 'aal2');
        const after = await eventually(
          () => send(app, { headers: NAVIGATION, jar }),
          (r) => r.status === 200,
        );
        assert.equal(echoedHeaders(after)['x-kratos-aal'], 'aal2');
      },
    ],
    ['two Cookie lines over HTTP/1.1 and cookies over HTTP/2: the session cookie is found', () => cookieLines(stack)],
    [
      'Kratos stopped: 503 with retry-after through Envoy; OK again after the restart',
      async () => {
        const user = await newUser(base);
        const headers = { ...API, 'x-session-token': user.session.token };
        await stack.stopKratos();
        try {
          // Never checked before, so no cached answer can hide the outage.
          const down = await send(`${base}/app/while-down`, { headers });
          assertJsonError(down, 503, 'kratos_unavailable');
          assert.equal(down.headers.get('retry-after'), '1');
        } finally {
          await stack.startKratos();
        }
        const up = await eventually(
          () => send(`${base}/app/after-restart`, { headers }),
          (s) => s.status === 200,
        );
        assert.equal(echoedHeaders(up)['x-kratos-identity-id'], user.session.identityId);
      },
    ],
  ];
}

const SHORT_LIFESPAN: Variant = { name: 'session.lifespan 5s', kratosEnv: { SESSION_LIFESPAN: '5s' } };

/** envoy/config.yaml's rules plus one asking for a login within the last 2 seconds. */
const RECENT_LOGIN: Variant = {
  name: 'a max_age 2s rule',
  serviceOverrides: {
    policy: {
      rules: [
        { name: 'public', paths: ['/', '/health', '/ui/*'], anonymous: true },
        { name: 'admin', hosts: ['admin.example.com'], cookie: 'aal2', token: 'aal2' },
        { name: 'recent', paths: ['/app/recent*'], cookie: { aal: 'highest_available', max_age: '2s' } },
      ],
    },
  },
};

async function recentLogin(stack: Stack): Promise<void> {
  const { user, jar } = await userInBrowser(stack.baseUrl);
  const app = `${stack.baseUrl}/app/recent`;
  assert.equal((await send(app, { headers: NAVIGATION, jar })).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const navigation = await send(app, { headers: NAVIGATION, jar });
  assert.equal(navigation.status, 302, navigation.text);
  assert.equal(
    navigation.headers.get('location'),
    `${stack.browserUrl}/self-service/login/browser?refresh=true&return_to=${encodeURIComponent(app)}`,
  );
  assertJsonError(await send(app, { headers: XHR, jar }), 403, 'session_refresh_required');
  assert.equal(await browserPasswordLogin(stack.baseUrl, jar, user.email, user.password, true), 'aal1');
  // At once: the service asks Kratos again before a refresh denial, whatever it has cached.
  const after = await send(app, { headers: NAVIGATION, jar });
  assert.equal(after.status, 200, after.text);
}

/** The scenarios `entries` lists for a stack, on one started from `plan`, as one subtest of `t`. */
async function onStack(
  t: TestContext,
  plan: StackPlan,
  entries: (stack: Stack) => [string, () => Promise<void>][],
): Promise<void> {
  await t.test(plan.description, (st) => withStack(plan, (stack) => scenarios(st, entries(stack))));
}

/** Every scenario and variant on `factory`'s stacks with `envoy`. */
async function scenariosOn(t: TestContext, factory: StackFactory, envoy: string): Promise<void> {
  const plan = factory.plan(envoy);
  await onStack(t, plan, defaultScenarios);

  const joined = factory.plan(envoy, { name: JOINED_HEADERS.name, adjustEnvoy: JOINED_HEADERS.adjust });
  await onStack(t, joined, (stack) => [
    ['cookie lines and HTTP/2 cookies: the same answers as with raw headers', () => cookieLines(stack)],
    [
      'a session token and a forged identity header: the same answers as with raw headers',
      async () => {
        const user = await newUser(stack.baseUrl);
        const headers = echoedHeaders(
          await send(`${stack.baseUrl}/app/p`, {
            headers: { ...API, 'x-session-token': user.session.token, 'x-kratos-identity-id': 'forged' },
          }),
        );
        assert.equal(headers['x-kratos-identity-id'], user.session.identityId);
        assertJsonError(await send(`${stack.baseUrl}/app/p`, { headers: API }), 401, 'session_inactive');
      },
    ],
  ]);

  // Kratos's public API behind a delaying proxy (2.5s); kratos.timeout (4s) longer than Envoy's
  // ext_authz timeout (1s): only the gRPC deadline Envoy sends can make the service answer in time.
  const [kratosPort = 0, proxyPort = 0] = await freePorts(2);
  const proxy = await DelayProxy.start(proxyPort, kratosPort, factory.hostAddress);
  const slow = factory.plan(envoy, {
    name: 'Kratos slowed by 2.5s, kratos.timeout 4s, Envoy ext_authz timeout 1s',
    ports: { kratosPublic: kratosPort },
    kratosPublicPortForClients: proxyPort,
    serviceOverrides: { kratos: { timeout: '4s' } },
    adjustEnvoy: EXT_AUTHZ_TIMEOUT_1S.adjust,
  });
  try {
    await onStack(t, slow, (stack) => [
      [
        "the service's own 503 arrives before Envoy's timeout (it honours Envoy's grpc-timeout)",
        async () => {
          const user = await newUser(stack.baseUrl);
          proxy.fault = latency(2_500);
          try {
            const started = Date.now();
            const sent = await send(`${stack.baseUrl}/app/slow`, {
              headers: { ...API, 'x-session-token': user.session.token },
            });
            const elapsed = Date.now() - started;
            // Envoy's own timeout answer would be status_on_error with no body.
            assertJsonError(sent, 503, 'kratos_unavailable');
            assert.equal(sent.headers.get('retry-after'), '1');
            process.stderr.write(`slowed Kratos (${stack.description}): the service's 503 after ${elapsed}ms\n`);
            assert.ok(elapsed < 1_000, `answered after ${elapsed}ms, before Envoy's 1s timeout`);
          } finally {
            proxy.fault = NO_FAULT;
          }
          const ok = await eventually(
            () => send(`${stack.baseUrl}/app/fast`, { headers: { ...API, 'x-session-token': user.session.token } }),
            (r) => r.status === 200,
          );
          assert.equal(echoedHeaders(ok)['x-kratos-identity-id'], user.session.identityId);
        },
      ],
    ]);
  } finally {
    await proxy.stop();
  }

  // Code MFA: Kratos mails a one-time code (HTTP courier to a sink this test reads); the
  // service counts an identity's code address as a second factor (kratos.code_mfa_enabled).
  const sink = await MailSink.start(factory.hostAddress);
  const codeMfa = factory.plan(envoy, {
    name: 'code MFA (selfservice.methods.code.mfa_enabled, HTTP courier)',
    kratosEnv: {
      SELFSERVICE_METHODS_CODE_MFA_ENABLED: 'true',
      COURIER_DELIVERY_STRATEGY: 'http',
      COURIER_HTTP_REQUEST_CONFIG_URL: sink.url,
      COURIER_HTTP_REQUEST_CONFIG_BODY: COURIER_BODY,
    },
    kratosServeFlags: ['--watch-courier'],
    serviceOverrides: { kratos: { code_mfa_enabled: true } },
  });
  try {
    await onStack(t, codeMfa, (stack) => [
      [
        'an identity with only a password and an email address must step up with an emailed code',
        async () => {
          const { user, jar } = await userInBrowser(stack.baseUrl);
          const app = `${stack.baseUrl}/app/code`;
          const navigation = await send(app, { headers: NAVIGATION, jar });
          assert.equal(navigation.status, 302, navigation.text);
          assert.equal(
            navigation.headers.get('location'),
            `${stack.browserUrl}/self-service/login/browser?aal=aal2&return_to=${encodeURIComponent(app)}`,
          );
          const seen = sink.mails.length;
          const aal = await browserCodeStepUp(stack.baseUrl, jar, user.email, async () => {
            const mail = await eventually(
              async () => sink.mails.slice(seen).find((m) => m.recipient === user.email),
              (m) => m !== undefined,
              20_000,
            );
            assert.ok(mail, 'Kratos mailed a login code');
            assert.equal(mail.templateType, 'login_code_valid');
            const code = mail.templateData.login_code;
            assert.equal(typeof code, 'string');
            return String(code);
          });
          assert.equal(aal, 'aal2');
          const after = await eventually(
            () => send(app, { headers: NAVIGATION, jar }),
            (r) => r.status === 200,
          );
          assert.equal(echoedHeaders(after)['x-kratos-aal'], 'aal2');
          // Tokens still need aal1 only.
          assert.equal(
            echoedHeaders(await send(app, { headers: { ...API, 'x-session-token': user.session.token } }))[
              'x-kratos-aal'
            ],
            'aal1',
          );
        },
      ],
    ]);
  } finally {
    await sink.stop();
  }

  const recent = factory.plan(envoy, RECENT_LOGIN);
  await onStack(t, recent, (stack) => [
    [
      'a max_age of 2s: refresh redirect and 403 once it passes, through again right after a refresh=true login',
      () => recentLogin(stack),
    ],
  ]);

  const short = factory.plan(envoy, SHORT_LIFESPAN);
  await onStack(t, short, (stack) => [
    [
      'an expired session: 401 for the token, a login redirect for the browser',
      async () => {
        const { user, jar } = await userInBrowser(stack.baseUrl);
        const app = `${stack.baseUrl}/app/expiring`;
        echoedHeaders(await send(app, { headers: { ...API, 'x-session-token': user.session.token } }));
        assert.equal((await send(app, { headers: NAVIGATION, jar })).status, 200);
        // Past the lifespan and the service's cache.ttl (2s).
        const token = await eventually(
          () => send(app, { headers: { ...API, 'x-session-token': user.session.token } }),
          (s) => s.status === 401,
          20_000,
          500,
        );
        assertJsonError(token, 401, 'session_inactive');
        const browser = await eventually(
          () => send(app, { headers: NAVIGATION, jar }),
          (s) => s.status === 302,
          10_000,
          500,
        );
        assert.equal(
          browser.headers.get('location'),
          `${stack.browserUrl}/self-service/login/browser?return_to=${encodeURIComponent(app)}`,
        );
      },
    ],
  ]);
}

test('e2e scenarios against the real binaries, on every selected stack', { timeout: 30 * 60_000 }, async (t) => {
  for (const factory of await stackFactories(t)) {
    for (const envoy of factory.envoyVersions) {
      await scenariosOn(t, factory, envoy);
    }
  }
});
