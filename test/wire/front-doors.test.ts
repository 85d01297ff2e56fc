/**
 * One table, every front door: each row of the README's decision table, and the credential,
 * cookie, host and path cases, goes through the gRPC door (Envoy's official protos) and the
 * three HTTP doors, and must come out as the same decision (the same reason, credential and
 * policy in the log line of that request) answered in each door's own dialect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { httpStatusOf, type CheckSpec, type OfficialCheckResponse } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import { HTTP_DOORS, type HttpAnswer, type HttpDoor } from '../support/http-client';
import { allSpellings, otherSpellings } from '../support/spellings';
import { AAL1, AAL2, NAVIGATE, TOTP, XHR } from '../support/fixtures';

const IDENTITY_HEADERS = ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal'];
const CREDENTIAL_HEADERS = ['cookie', 'x-session-token', 'authorization'];

type Door = 'grpc' | HttpDoor;
const DOORS: readonly Door[] = ['grpc', ...HTTP_DOORS];

/** What every door must agree on; `status` is the HTTP status Envoy or a forward-auth proxy gives the client. */
type Expected = { reason: string; credential: 'cookie' | 'token' | 'none'; policy?: string } & (
  | { answer: 'allow'; aal?: 'aal1' | 'aal2' }
  | { answer: 'redirect'; status: 302 | 303; location: (login: string) => string }
  | { answer: 'json'; status: number; errorId: string; challenge?: string; retryAfter?: string }
);

interface Row {
  name: string;
  /** Builds the request, once per door (sessions and faults are per call). */
  arrange: () => CheckSpec;
  expected: Expected;
  /** Doors the row cannot be expressed through, and why. */
  except?: { doors: readonly Door[]; because: string };
}

let h: Harness;
let login: string;
before(async () => {
  h = await startHarness({
    config: {
      policy: {
        rules: [
          { name: 'public', paths: ['/public/*'], anonymous: true },
          { name: 'internal', paths: ['/internal/*'], deny: true },
          { name: 'records-kept', paths: ['/records/*'], methods: ['DELETE'], deny: true },
          { name: 'admin', hosts: ['admin.example.com'], cookie: 'aal2', token: 'aal2' },
          {
            name: 'payout',
            paths: ['/settings/payout*'],
            cookie: { aal: 'highest_available', max_age: '5m' },
            token: { aal: 'aal1', max_age: '5m' },
          },
        ],
      },
    },
  });
  login = `${h.emulator.publicUrl}/self-service/login/browser`;
});
after(() => h.close());

const returnTo = (url: string) => `return_to=${encodeURIComponent(url)}`;
const cookieOf = (identity: { credentials?: typeof TOTP } = {}, methods: typeof AAL2 = AAL1) =>
  h.emulator.cookieHeaderFor(h.newSession(h.emulator.addIdentity(identity), { methods }));
const tokenOf = (identity: { credentials?: typeof TOTP } = {}, methods: typeof AAL2 = AAL1) =>
  h.newSession(h.emulator.addIdentity(identity), { methods }).token;
/** A session that last authenticated ten minutes ago, past the payout rule's max_age of 5m. */
const TEN_MINUTES_AGO = () => ({ methods: AAL1, authenticatedAt: new Date(Date.now() - 600_000) });
const oldCookieOf = (identity: { credentials?: typeof TOTP } = {}) =>
  h.emulator.cookieHeaderFor(h.newSession(h.emulator.addIdentity(identity), TEN_MINUTES_AGO()));

const rows: Row[] = [
  // --- the README decision table
  {
    name: 'allowed: aal2 cookie of an identity with TOTP',
    arrange: () => ({ path: '/dashboard', headers: { ...NAVIGATE, cookie: cookieOf({ credentials: TOTP }, AAL2) } }),
    expected: { answer: 'allow', aal: 'aal2', reason: 'ok', credential: 'cookie' },
  },
  {
    name: 'allowed: aal1 token of an identity with TOTP',
    arrange: () => ({ headers: { 'x-session-token': tokenOf({ credentials: TOTP }) } }),
    expected: { answer: 'allow', aal: 'aal1', reason: 'ok', credential: 'token' },
  },
  {
    name: 'allowed: aal1 cookie of an identity without a second factor',
    arrange: () => ({ headers: { ...XHR, cookie: cookieOf() } }),
    expected: { answer: 'allow', aal: 'aal1', reason: 'ok', credential: 'cookie' },
  },
  {
    name: 'allowed: anonymous rule, no credential, no identity headers',
    arrange: () => ({ path: '/public/logo.svg', headers: XHR }),
    expected: { answer: 'allow', reason: 'anonymous', credential: 'none', policy: 'public' },
  },
  {
    name: 'browser GET without a session → 302 login with return_to',
    arrange: () => ({ path: '/orders?id=7', headers: NAVIGATE }),
    expected: {
      answer: 'redirect',
      status: 302,
      location: (l) => `${l}?${returnTo('https://app.example.com/orders?id=7')}`,
      reason: 'unauthenticated',
      credential: 'none',
    },
  },
  {
    name: 'browser form POST with an expired cookie → 303',
    arrange: () => {
      const session = h.newSession(h.emulator.addIdentity());
      h.emulator.expireSession(session.id);
      return {
        method: 'POST',
        path: '/settings',
        headers: { ...NAVIGATE, cookie: h.emulator.cookieHeaderFor(session) },
      };
    },
    expected: {
      answer: 'redirect',
      status: 303,
      location: (l) => `${l}?${returnTo('https://app.example.com/settings')}`,
      reason: 'unauthenticated',
      credential: 'cookie',
    },
  },
  {
    name: 'browser HEAD without a session → 302',
    arrange: () => ({ method: 'HEAD', headers: NAVIGATE }),
    expected: {
      answer: 'redirect',
      status: 302,
      location: (l) => `${l}?${returnTo('https://app.example.com/')}`,
      reason: 'unauthenticated',
      credential: 'none',
    },
  },
  {
    name: 'Accept preferring text/html counts as a navigation',
    arrange: () => ({ headers: { accept: 'text/html,*/*;q=0.8' } }),
    expected: {
      answer: 'redirect',
      status: 302,
      location: (l) => `${l}?${returnTo('https://app.example.com/')}`,
      reason: 'unauthenticated',
      credential: 'none',
    },
  },
  {
    name: 'browser with an aal1 cookie, identity with TOTP → 302 step-up',
    arrange: () => ({ path: '/billing', headers: { ...NAVIGATE, cookie: cookieOf({ credentials: TOTP }) } }),
    expected: {
      answer: 'redirect',
      status: 302,
      location: (l) => `${l}?aal=aal2&${returnTo('https://app.example.com/billing')}`,
      reason: 'aal_too_low',
      credential: 'cookie',
    },
  },
  {
    name: 'API without a credential → 401 session_inactive',
    arrange: () => ({ headers: XHR }),
    expected: {
      answer: 'json',
      status: 401,
      errorId: 'session_inactive',
      challenge: 'Bearer realm="kratos-ext-authz"',
      reason: 'unauthenticated',
      credential: 'none',
    },
  },
  {
    name: 'unknown bearer token → 401 invalid_token',
    arrange: () => ({ headers: { authorization: `Bearer ${h.remember('ory_st_doesnotexist0000000000000000')}` } }),
    expected: {
      answer: 'json',
      status: 401,
      errorId: 'session_inactive',
      challenge: 'Bearer realm="kratos-ext-authz", error="invalid_token"',
      reason: 'unauthenticated',
      credential: 'token',
    },
  },
  {
    name: 'a token on a navigation is answered API-style',
    arrange: () => ({ headers: { ...NAVIGATE, 'x-session-token': h.remember('ory_st_unknownunknownunknown000000') } }),
    expected: {
      answer: 'json',
      status: 401,
      errorId: 'session_inactive',
      challenge: 'Bearer realm="kratos-ext-authz", error="invalid_token"',
      reason: 'unauthenticated',
      credential: 'token',
    },
  },
  {
    name: 'API with an aal1 cookie, identity with TOTP → 403 session_aal2_required',
    arrange: () => ({ path: '/api/me', headers: { ...XHR, cookie: cookieOf({ credentials: TOTP }) } }),
    expected: {
      answer: 'json',
      status: 403,
      errorId: 'session_aal2_required',
      reason: 'aal_too_low',
      credential: 'cookie',
    },
  },
  {
    name: 'browser with a cookie older than max_age → 302 login with refresh=true',
    arrange: () => ({ path: '/settings/payout', headers: { ...NAVIGATE, cookie: oldCookieOf() } }),
    expected: {
      answer: 'redirect',
      status: 302,
      location: (l) => `${l}?refresh=true&${returnTo('https://app.example.com/settings/payout')}`,
      reason: 'refresh_required',
      credential: 'cookie',
      policy: 'payout',
    },
  },
  {
    name: 'browser with an old aal1 cookie, identity with TOTP → 302 with refresh=true&aal=aal2',
    arrange: () => ({ path: '/settings/payout', headers: { ...NAVIGATE, cookie: oldCookieOf({ credentials: TOTP }) } }),
    expected: {
      answer: 'redirect',
      status: 302,
      location: (l) => `${l}?refresh=true&aal=aal2&${returnTo('https://app.example.com/settings/payout')}`,
      reason: 'refresh_required',
      credential: 'cookie',
      policy: 'payout',
    },
  },
  {
    name: 'API with a cookie older than max_age → 403 session_refresh_required',
    arrange: () => ({ path: '/settings/payout', headers: { ...XHR, cookie: oldCookieOf() } }),
    expected: {
      answer: 'json',
      status: 403,
      errorId: 'session_refresh_required',
      reason: 'refresh_required',
      credential: 'cookie',
      policy: 'payout',
    },
  },
  {
    name: 'a token older than max_age → 403 session_refresh_required',
    arrange: () => ({
      path: '/settings/payout',
      headers: { 'x-session-token': h.newSession(h.emulator.addIdentity(), TEN_MINUTES_AGO()).token },
    }),
    expected: {
      answer: 'json',
      status: 403,
      errorId: 'session_refresh_required',
      reason: 'refresh_required',
      credential: 'token',
      policy: 'payout',
    },
  },
  {
    name: 'rule deny → 403 forbidden',
    arrange: () => ({ path: '/internal/metrics', headers: { 'x-session-token': tokenOf() } }),
    expected: {
      answer: 'json',
      status: 403,
      errorId: 'forbidden',
      reason: 'rule_deny',
      credential: 'token',
      policy: 'internal',
    },
  },
  {
    name: 'whoami 500 → 503 kratos_unavailable',
    arrange: () => {
      const token = tokenOf();
      h.emulator.fail('whoami', { mode: 'status500', count: 1 });
      return { headers: { 'x-session-token': token } };
    },
    expected: {
      answer: 'json',
      status: 503,
      errorId: 'kratos_unavailable',
      retryAfter: '1',
      reason: 'kratos_unavailable',
      credential: 'token',
    },
  },
  {
    name: 'admin API 500 while checking highest_available → 503',
    arrange: () => {
      const cookie = cookieOf({ credentials: TOTP });
      h.emulator.fail('identity', { mode: 'status500', count: 1 });
      return { headers: { ...NAVIGATE, cookie } };
    },
    expected: {
      answer: 'json',
      status: 503,
      errorId: 'kratos_unavailable',
      retryAfter: '1',
      reason: 'kratos_unavailable',
      credential: 'cookie',
    },
  },
  {
    name: 'a lower-case method → 400',
    arrange: () => ({ method: 'get', headers: { 'x-session-token': tokenOf() } }),
    expected: {
      answer: 'json',
      status: 400,
      errorId: 'bad_request',
      reason: 'bad_request',
      credential: 'none',
      policy: 'none',
    },
    except: {
      doors: ['envoy_http'],
      because: "Node's HTTP client upper-cases the method, and an HTTP/1.1 parser refuses `get` before any door",
    },
  },
  // --- host rules read from each door's description of the request
  {
    name: 'host rule: aal1 token on admin.example.com (aal2 required) → 403',
    arrange: () => ({ host: 'admin.example.com', headers: { 'x-session-token': tokenOf() } }),
    expected: {
      answer: 'json',
      status: 403,
      errorId: 'session_aal2_required',
      reason: 'aal_too_low',
      credential: 'token',
      policy: 'admin',
    },
  },
  {
    name: 'an authority that is not a plain host[:port] → 400',
    arrange: () => ({ host: 'admin.example.com:abc', headers: { 'x-session-token': tokenOf() } }),
    expected: {
      answer: 'json',
      status: 400,
      errorId: 'bad_request',
      reason: 'bad_request',
      credential: 'none',
      policy: 'none',
    },
  },
  // --- path normalisation
  {
    name: 'path: /INTERNAL/x falls under the deny rule only case-folded → 400',
    arrange: () => ({ path: '/INTERNAL/x', headers: { 'x-session-token': tokenOf() } }),
    expected: {
      answer: 'json',
      status: 400,
      errorId: 'bad_request',
      reason: 'bad_request',
      credential: 'token',
      policy: 'none',
    },
  },
  {
    name: 'path: /internal/x/ (trailing slash) is still the deny rule',
    arrange: () => ({ path: '/internal/x/', headers: { 'x-session-token': tokenOf() } }),
    expected: {
      answer: 'json',
      status: 403,
      errorId: 'forbidden',
      reason: 'rule_deny',
      credential: 'token',
      policy: 'internal',
    },
  },
  {
    name: 'path: /public/../internal/x reads differently → 400',
    arrange: () => ({ path: '/public/../internal/x', headers: XHR }),
    expected: {
      answer: 'json',
      status: 400,
      errorId: 'bad_request',
      reason: 'bad_request',
      credential: 'none',
      policy: 'none',
    },
  },
  {
    name: 'path: /public/..;/internal/x → 400',
    arrange: () => ({ path: '/public/..;/internal/x', headers: XHR }),
    expected: {
      answer: 'json',
      status: 400,
      errorId: 'bad_request',
      reason: 'bad_request',
      credential: 'none',
      policy: 'none',
    },
  },
  {
    name: 'path: /public/%2e%2e/internal/x → 400',
    arrange: () => ({ path: '/public/%2e%2e/internal/x', headers: XHR }),
    expected: {
      answer: 'json',
      status: 400,
      errorId: 'bad_request',
      reason: 'bad_request',
      credential: 'none',
      policy: 'none',
    },
  },
  {
    name: 'path: //public/x merges to the anonymous rule only when both readings agree → 400',
    arrange: () => ({ path: '/x/..//internal/y', headers: XHR }),
    expected: {
      answer: 'json',
      status: 400,
      errorId: 'bad_request',
      reason: 'bad_request',
      credential: 'none',
      policy: 'none',
    },
  },
  // --- method overrides: Express method-override, Rack::MethodOverride, ASP.NET, Laravel and Spring act on these
  {
    name: 'method: DELETE /records/1 is the deny rule',
    arrange: () => ({ method: 'DELETE', path: '/records/1', headers: { 'x-session-token': tokenOf() } }),
    expected: {
      answer: 'json',
      status: 403,
      errorId: 'forbidden',
      reason: 'rule_deny',
      credential: 'token',
      policy: 'records-kept',
    },
  },
  ...(
    [
      ['X-HTTP-Method-Override: DELETE', { 'x-http-method-override': 'DELETE' }, '/records/1'],
      ['X-Method-Override: delete', { 'x-method-override': 'delete' }, '/records/1'],
      ['X-HTTP-Method: DELETE', { 'x-http-method': 'DELETE' }, '/records/1'],
      ['X-HTTP-Method-Override: PATCH, DELETE', { 'x-http-method-override': 'PATCH, DELETE' }, '/records/1'],
      ['?_method=DELETE', {}, '/records/1?_method=DELETE'],
      ['?%5Fmethod=delete', {}, '/records/1?a=1&%5Fmethod=delete'],
    ] as const
  ).map(([how, override, path]): Row => ({
    name: `method: POST ${path} with ${how} would be a DELETE to the app → 400`,
    arrange: () => ({ method: 'POST', path, headers: { 'x-session-token': tokenOf(), ...override } }),
    expected: {
      answer: 'json',
      status: 400,
      errorId: 'bad_request',
      reason: 'bad_request',
      credential: 'token',
      policy: 'none',
    },
  })),
  {
    name: 'method: an override to a method under the same rule changes nothing',
    arrange: () => ({
      method: 'POST',
      path: '/records/1',
      headers: { 'x-session-token': tokenOf(), 'x-http-method-override': 'PATCH' },
    }),
    expected: { answer: 'allow', aal: 'aal1', reason: 'ok', credential: 'token' },
  },
  // --- credentials: Kratos's precedence and forms
  {
    name: 'credential: X-Session-Token wins over a cookie',
    arrange: () => ({
      headers: {
        ...NAVIGATE,
        'x-session-token': tokenOf(),
        cookie: h.remember('ory_kratos_session=notacookie0000000000'),
      },
    }),
    expected: { answer: 'allow', aal: 'aal1', reason: 'ok', credential: 'token' },
  },
  {
    name: 'credential: the cookie wins over Authorization: Bearer',
    arrange: () => ({
      headers: {
        ...XHR,
        cookie: cookieOf(),
        authorization: `Bearer ${h.remember('ory_st_doesnotexist1111111111111111')}`,
      },
    }),
    expected: { answer: 'allow', aal: 'aal1', reason: 'ok', credential: 'cookie' },
  },
  {
    name: 'credential: lower-case "bearer" scheme',
    arrange: () => ({ headers: { authorization: `bearer ${tokenOf()}` } }),
    expected: { answer: 'allow', aal: 'aal1', reason: 'ok', credential: 'token' },
  },
  {
    name: 'credential: "Bearer  x" (two spaces) carries no token',
    arrange: () => ({ headers: { ...XHR, authorization: `Bearer  ${tokenOf()}` } }),
    expected: {
      answer: 'json',
      status: 401,
      errorId: 'session_inactive',
      challenge: 'Bearer realm="kratos-ext-authz"',
      reason: 'unauthenticated',
      credential: 'none',
    },
  },
  {
    name: 'credential: a token with a byte outside visible ASCII is not asked about',
    arrange: () => ({ headers: { 'x-session-token': h.remember('ory_st_caf\u00e9caf\u00e9caf\u00e9caf\u00e9') } }),
    expected: {
      answer: 'json',
      status: 401,
      errorId: 'session_inactive',
      challenge: 'Bearer realm="kratos-ext-authz", error="invalid_token"',
      reason: 'unauthenticated',
      credential: 'token',
    },
  },
  // --- cookies
  {
    name: "cookie: among the app's other cookies",
    arrange: () => ({ headers: { ...XHR, cookie: `theme=dark; ${cookieOf()}; csrf=abc` } }),
    expected: { answer: 'allow', aal: 'aal1', reason: 'ok', credential: 'cookie' },
  },
  {
    name: 'cookie: in the second of two Cookie lines',
    arrange: () => ({
      headers: [
        ['accept', 'application/json'],
        ['cookie', 'theme=dark'],
        ['cookie', cookieOf()],
      ],
    }),
    expected: { answer: 'allow', aal: 'aal1', reason: 'ok', credential: 'cookie' },
  },
  {
    name: 'cookie: an empty session cookie counts as none',
    arrange: () => ({ headers: { ...XHR, cookie: 'ory_kratos_session=; theme=dark' } }),
    expected: {
      answer: 'json',
      status: 401,
      errorId: 'session_inactive',
      challenge: 'Bearer realm="kratos-ext-authz"',
      reason: 'unauthenticated',
      credential: 'none',
    },
  },
  // --- forged identity headers never come back as if Kratos had vouched for them
  {
    name: 'forged identity headers on an anonymous route are not echoed',
    arrange: () => ({ path: '/public/x', headers: { ...XHR, 'x-kratos-identity-id': 'forged', x_kratos_aal: 'aal2' } }),
    expected: { answer: 'allow', reason: 'anonymous', credential: 'none', policy: 'public' },
  },
];

/** One door's answer in common terms: the status the client would get, headers, body. */
interface Observed {
  status: number;
  /** Denial headers sent to the client, or the headers set on the upstream request for an allow. */
  headers: Record<string, string>;
  body: string;
  /** What the door asks its proxy to strip from the upstream request on an allow. */
  removed: string[];
}

function fromGrpc(response: OfficialCheckResponse): Observed {
  const options = response.ok_response?.headers ?? response.denied_response?.headers ?? [];
  return {
    status: httpStatusOf(response),
    headers: Object.fromEntries(options.map((option) => [option.header.key, option.header.value])),
    body: response.denied_response?.body ?? '',
    removed: response.ok_response?.headers_to_remove ?? [],
  };
}

function fromHttp(door: HttpDoor, answer: HttpAnswer): Observed {
  const removal = answer.headers['x-envoy-auth-headers-to-remove'];
  return {
    status: answer.status,
    headers: answer.headers,
    body: answer.body,
    removed: door === 'envoy_http' && removal ? removal.split(',') : [],
  };
}

async function through(door: Door, spec: CheckSpec): Promise<Observed> {
  if (door === 'grpc') return fromGrpc(await h.client.check(spec));
  assert.ok(h.http, 'the HTTP front doors are listening');
  return fromHttp(door, await h.http.check(door, spec));
}

/** The check log lines written since `from` (tests in a file run one at a time). */
function checkLinesSince(from: number): Array<Record<string, unknown>> {
  return h.logs.slice(from).filter((line) => line.msg === 'check');
}

function assertAnswer(door: Door, observed: Observed, expected: Expected): void {
  switch (expected.answer) {
    case 'allow': {
      assert.equal(observed.status, 200);
      const identity = IDENTITY_HEADERS.filter((name) => name in observed.headers);
      if (expected.aal) {
        assert.deepEqual(identity, IDENTITY_HEADERS);
        assert.equal(observed.headers['x-kratos-aal'], expected.aal);
      } else {
        assert.deepEqual(identity, [], 'no identity headers without a subject');
      }
      if (door === 'grpc' || door === 'envoy_http') {
        const forgeable = expected.aal
          ? IDENTITY_HEADERS.flatMap(otherSpellings)
          : IDENTITY_HEADERS.flatMap(allSpellings);
        // The credential headers it strips too are test/wire/upstream-credentials.test.ts's subject.
        const identityRemoved = observed.removed.filter((name) => !CREDENTIAL_HEADERS.includes(name));
        assert.deepEqual(
          [...identityRemoved].sort(),
          forgeable.sort(),
          'Envoy strips every spelling of the identity headers it does not set',
        );
      }
      return;
    }
    case 'redirect':
      // nginx's auth_request passes only 2xx/401/403: the redirect comes as 401 with Location.
      assert.equal(observed.status, door === 'auth_request' ? 401 : expected.status);
      assert.equal(observed.headers.location, expected.location(login));
      assert.equal(observed.headers['cache-control'], 'no-store');
      assert.equal(observed.headers['www-authenticate'], undefined);
      return;
    case 'json': {
      // Envoy's http_service takes any 5xx from the authorizer for its failure (see envoy-http.ts).
      assert.equal(observed.status, door === 'envoy_http' && expected.status >= 500 ? 403 : expected.status);
      assert.equal(observed.headers['content-type'], 'application/json');
      assert.equal(observed.headers['cache-control'], 'no-store');
      assert.equal(observed.headers['www-authenticate'], expected.challenge);
      assert.equal(observed.headers['retry-after'], expected.retryAfter);
      assert.equal(observed.headers.location, undefined);
      const body = JSON.parse(observed.body) as { error: { id: string; code: number } };
      assert.equal(body.error.id, expected.errorId);
      assert.equal(body.error.code, expected.status);
    }
  }
}

describe('the same decision through every front door', () => {
  for (const row of rows) {
    describe(row.name, () => {
      const answers = new Map<Door, string>();
      for (const door of DOORS) {
        // Not a skip: the request cannot be expressed at that door at all (said in the row).
        if (row.except?.doors.includes(door)) continue;
        test(door, async () => {
          const spec = row.arrange();
          const from = h.logs.length;
          const observed = await through(door, spec);
          assertAnswer(door, observed, row.expected);
          const lines = checkLinesSince(from);
          assert.equal(lines.length, 1, 'one check, observed once');
          const [line = {}] = lines;
          assert.deepEqual(
            { front_door: line.front_door, reason: line.reason, credential: line.credential, policy: line.policy },
            {
              front_door: door,
              reason: row.expected.reason,
              credential: row.expected.credential,
              policy: row.expected.policy ?? 'default',
            },
          );
          // The JSON bodies are byte for byte the gRPC door's: the same Answer, shaped per door.
          answers.set(door, observed.body);
          const grpcBody = answers.get('grpc');
          if (door !== 'grpc' && grpcBody !== undefined) assert.equal(observed.body, grpcBody);
        });
      }
    });
  }
});
