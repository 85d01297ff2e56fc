import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { answer, type Answer } from '../../../src/answer/answer';
import { IDENTITY_HEADERS } from '../../../src/request/identity-headers';
import type { Decision } from '../../../src/decision/decision';
import { requestView, type ViewOptions } from '../support/request';
import { XHR as XHR_HEADERS } from '../../support/fixtures';

const SETTINGS = { browserUrl: 'https://auth.example.com', allowedHosts: [] as string[] };
const LOGIN = 'https://auth.example.com/self-service/login/browser';
const SUBJECT = {
  identityId: 'id-1',
  sessionId: 'sess-1',
  aal: 'aal1' as const,
  session: {
    id: 'sess-1',
    identityId: 'id-1',
    aal: 'aal1' as const,
    expiresAt: Date.now() + 60_000,
    methods: ['password'],
    traits: new Map(),
  },
};

const NAVIGATION: ViewOptions['headers'] = [
  ['sec-fetch-mode', 'navigate'],
  ['accept', 'text/html'],
];
const XHR: ViewOptions['headers'] = Object.entries(XHR_HEADERS);

type Denial = Extract<Answer, { kind: 'deny' }>;

function denial(result: Answer): Denial {
  assert.equal(result.kind, 'deny');
  return result as Denial;
}

function headerOf(result: Denial, name: string): string | undefined {
  const found = result.headers.filter(([key]) => key === name);
  assert.ok(found.length <= 1, `${name} set ${found.length} times`);
  return found[0]?.[1];
}

interface ErrorBody {
  error: {
    id?: string;
    code: number;
    status: string;
    reason?: string;
    message: string;
    details?: { redirect_browser_to?: string };
  };
  redirect_browser_to?: string;
}

function bodyOf(result: Denial): ErrorBody {
  assert.equal(headerOf(result, 'content-type'), 'application/json');
  return JSON.parse(result.body) as ErrorBody;
}

const base = { credential: 'cookie', policy: 'default' } as const;

describe('answer: allow', () => {
  test('with a subject: the three identity headers for the upstream', () => {
    const result = answer(
      { ...base, kind: 'allow', stripCredentials: true, reason: 'ok', subject: { ...SUBJECT, aal: 'aal2' } },
      requestView(),
      SETTINGS,
    );
    assert.deepEqual(result, {
      kind: 'allow',
      identityHeaders: [
        ['x-kratos-identity-id', 'id-1'],
        ['x-kratos-session-id', 'sess-1'],
        ['x-kratos-aal', 'aal2'],
      ],
      withheld: [],
      upstreamCredentials: [],
      clientHeaders: [],
    });
  });

  test('a renewed session cookie: one set-cookie client header per line, for the client, not the upstream', () => {
    const refreshedCookie = [
      'ory_kratos_session=a; Path=/; Expires=Wed, 02 Dec 2026 11:40:58 GMT',
      'ory_kratos_session=b; Path=/app',
    ];
    const result = answer(
      { ...base, kind: 'allow', stripCredentials: true, reason: 'ok', subject: SUBJECT, refreshedCookie },
      requestView(),
      SETTINGS,
    );
    assert.equal(result.kind, 'allow');
    assert.deepEqual(
      result.kind === 'allow' && result.clientHeaders,
      refreshedCookie.map((line) => ['set-cookie', line]),
    );
    assert.ok(result.kind === 'allow' && result.identityHeaders.every(([name]) => name !== 'set-cookie'));
  });

  test('anonymous (no subject): no identity headers', () => {
    for (const reason of ['anonymous', 'cors_preflight', 'ok'] as const) {
      const result = answer(
        { ...base, credential: 'none', kind: 'allow', stripCredentials: true, reason, subject: null },
        requestView(),
        SETTINGS,
      );
      assert.deepEqual(result, {
        kind: 'allow',
        identityHeaders: [],
        withheld: [...IDENTITY_HEADERS],
        upstreamCredentials: [],
        clientHeaders: [],
      });
    }
    assert.deepEqual([...IDENTITY_HEADERS], ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal']);
  });
});

describe('answer: unauthenticated', () => {
  const unauthenticated = (credential: Decision['credential']): Decision => ({
    ...base,
    credential,
    kind: 'unauthenticated',
  });

  const redirects: ReadonlyArray<{ method: string; status: number }> = [
    { method: 'GET', status: 302 },
    { method: 'HEAD', status: 302 },
    { method: 'POST', status: 303 },
    { method: 'PUT', status: 303 },
    { method: 'DELETE', status: 303 },
  ];
  for (const { method, status } of redirects) {
    test(`browser navigation ${method} with a cookie → ${status} to the login with return_to`, () => {
      const result = denial(
        answer(unauthenticated('cookie'), requestView({ method, path: '/x?y=1', headers: NAVIGATION }), SETTINGS),
      );
      assert.equal(result.status, status);
      assert.deepEqual(result.headers, [
        ['location', `${LOGIN}?return_to=https%3A%2F%2Fapp.example.com%2Fx%3Fy%3D1`],
        ['cache-control', 'no-store'],
      ]);
      assert.equal(result.body, '');
    });
  }

  test('navigation without any credential also redirects', () => {
    const result = denial(
      answer(unauthenticated('none'), requestView({ headers: [['accept', 'text/html,*/*;q=0.8']] }), SETTINGS),
    );
    assert.equal(result.status, 302);
    assert.equal(headerOf(result, 'location'), `${LOGIN}?return_to=https%3A%2F%2Fapp.example.com%2F`);
  });

  test('a token is never redirected, even on a navigation: 401 invalid_token without redirect_browser_to', () => {
    const result = denial(answer(unauthenticated('token'), requestView({ headers: NAVIGATION }), SETTINGS));
    assert.equal(result.status, 401);
    assert.equal(headerOf(result, 'www-authenticate'), 'Bearer realm="kratos-ext-authz", error="invalid_token"');
    assert.equal(headerOf(result, 'cache-control'), 'no-store');
    assert.equal(headerOf(result, 'location'), undefined);
    const body = bodyOf(result);
    assert.equal(body.error.code, 401);
    assert.equal(body.error.status, 'Unauthorized');
    assert.equal(body.error.reason, 'No valid session credentials found in the request.');
    assert.equal(body.error.message, 'The request could not be authorized');
    assert.equal('redirect_browser_to' in body, false);
  });

  for (const credential of ['cookie', 'none'] as const) {
    test(`XHR with credential ${credential}: 401 JSON with redirect_browser_to, challenge without an error code`, () => {
      const result = denial(answer(unauthenticated(credential), requestView({ path: '/api', headers: XHR }), SETTINGS));
      assert.equal(result.status, 401);
      assert.equal(headerOf(result, 'www-authenticate'), 'Bearer realm="kratos-ext-authz"');
      assert.equal(headerOf(result, 'cache-control'), 'no-store');
      const body = bodyOf(result);
      assert.equal(body.error.code, 401);
      assert.equal(body.error.reason, 'No valid session credentials found in the request.');
      assert.equal(body.redirect_browser_to, `${LOGIN}?return_to=https%3A%2F%2Fapp.example.com%2Fapi`);
    });
  }

  test('no view (request too malformed to read): 401 JSON, login URL without return_to', () => {
    const result = denial(answer(unauthenticated('none'), undefined, SETTINGS));
    assert.equal(result.status, 401);
    assert.equal(bodyOf(result).redirect_browser_to, LOGIN);
  });

  test('a host outside return_to.allowed_hosts loses its return_to, not its redirect', () => {
    const settings = { ...SETTINGS, allowedHosts: ['app.example.com'] };
    const result = denial(
      answer(unauthenticated('cookie'), requestView({ authority: 'evil.com', headers: NAVIGATION }), settings),
    );
    assert.equal(result.status, 302);
    assert.equal(headerOf(result, 'location'), LOGIN);
  });
});

describe('answer: aal_too_low', () => {
  const tooLow = (credential: Decision['credential']): Decision => ({
    ...base,
    credential,
    kind: 'aal_too_low',
    subject: SUBJECT,
  });
  const STEP_UP = `${LOGIN}?aal=aal2&return_to=https%3A%2F%2Fapp.example.com%2Fadmin`;

  test('browser navigation with a cookie: 302 to the step-up login', () => {
    const result = denial(answer(tooLow('cookie'), requestView({ path: '/admin', headers: NAVIGATION }), SETTINGS));
    assert.equal(result.status, 302);
    assert.deepEqual(result.headers, [
      ['location', STEP_UP],
      ['cache-control', 'no-store'],
    ]);
  });

  test('form POST navigation: 303', () => {
    const result = denial(
      answer(tooLow('cookie'), requestView({ method: 'POST', path: '/admin', headers: NAVIGATION }), SETTINGS),
    );
    assert.equal(result.status, 303);
    assert.equal(headerOf(result, 'location'), STEP_UP);
  });

  for (const { name, credential, headers } of [
    { name: 'cookie on XHR', credential: 'cookie', headers: XHR },
    { name: 'token on a navigation', credential: 'token', headers: NAVIGATION },
    { name: 'token on XHR', credential: 'token', headers: XHR },
  ] as const) {
    test(`${name}: 403 shaped like Kratos's session_aal2_required`, () => {
      const result = denial(answer(tooLow(credential), requestView({ path: '/admin', headers }), SETTINGS));
      assert.equal(result.status, 403);
      assert.equal(headerOf(result, 'www-authenticate'), undefined);
      assert.equal(headerOf(result, 'cache-control'), 'no-store');
      const body = bodyOf(result);
      assert.deepEqual(body, {
        error: {
          id: 'session_aal2_required',
          code: 403,
          status: 'Forbidden',
          reason:
            'An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.',
          message: 'Session does not fulfill the requested Authenticator Assurance Level',
          details: { redirect_browser_to: STEP_UP },
        },
        redirect_browser_to: STEP_UP,
      });
    });
  }

  test('Kratos itself refused the AAL (subject null): same answer', () => {
    const result = denial(
      answer({ ...base, kind: 'aal_too_low', subject: null }, requestView({ path: '/admin', headers: XHR }), SETTINGS),
    );
    assert.equal(result.status, 403);
    assert.equal(bodyOf(result).error.id, 'session_aal2_required');
  });
});

describe('answer: other denials', () => {
  const cases: ReadonlyArray<{
    decision: Decision;
    status: number;
    id: string;
    statusText: string;
    extra?: Array<readonly [string, string]>;
  }> = [
    { decision: { ...base, kind: 'rule_deny' }, status: 403, id: 'forbidden', statusText: 'Forbidden' },
    {
      decision: { ...base, kind: 'kratos_unavailable', detail: 'whoami timeout after 150ms' },
      status: 503,
      id: 'kratos_unavailable',
      statusText: 'Service Unavailable',
      extra: [['retry-after', '1']],
    },
    {
      decision: { ...base, kind: 'bad_request', detail: 'no path' },
      status: 400,
      id: 'bad_request',
      statusText: 'Bad Request',
    },
    {
      decision: { ...base, kind: 'request_too_large', detail: 'big' },
      status: 413,
      id: 'request_too_large',
      statusText: 'Payload Too Large',
    },
    {
      decision: { ...base, kind: 'request_timeout', detail: 'slow' },
      status: 408,
      id: 'request_timeout',
      statusText: 'Request Timeout',
    },
    {
      decision: { ...base, kind: 'untrusted_proxy', detail: '203.0.113.9' },
      status: 403,
      id: 'untrusted_proxy',
      statusText: 'Forbidden',
    },
    {
      decision: { ...base, kind: 'internal_error', detail: 'secret internals' },
      status: 500,
      id: 'internal_error',
      statusText: 'Internal Server Error',
    },
  ];
  for (const { decision, status, id, statusText, extra = [] } of cases) {
    test(`${decision.kind} → ${status}`, () => {
      // Never a redirect, even for a browser navigation.
      const result = denial(answer(decision, requestView({ headers: NAVIGATION }), SETTINGS));
      assert.equal(result.status, status);
      assert.deepEqual(result.headers, [...extra, ['content-type', 'application/json'], ['cache-control', 'no-store']]);
      const body = bodyOf(result);
      assert.equal(body.error.id, id);
      assert.equal(body.error.code, status);
      assert.equal(body.error.status, statusText);
      assert.equal(typeof body.error.message, 'string');
      assert.equal('redirect_browser_to' in body, false);
    });
  }

  test('bad_request explains itself; internal_error and kratos_unavailable do not leak details', () => {
    assert.match(
      bodyOf(denial(answer({ ...base, kind: 'bad_request', detail: 'no path' }, undefined, SETTINGS))).error.message,
      /no path/,
    );
    assert.doesNotMatch(
      denial(answer({ ...base, kind: 'internal_error', detail: 'secret internals' }, undefined, SETTINGS)).body,
      /secret internals/,
    );
    assert.doesNotMatch(
      denial(answer({ ...base, kind: 'kratos_unavailable', detail: 'whoami econnrefused' }, undefined, SETTINGS)).body,
      /econnrefused/,
    );
  });
});
