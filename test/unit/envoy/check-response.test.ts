import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answer } from '../../../src/answer/answer';
import { IDENTITY_HEADERS } from '../../../src/request/identity-headers';
import type { Decision } from '../../../src/decision/decision';
import { toCheckResponse } from '../../../src/envoy/check-response';
import { allSpellings, otherSpellings } from '../../support/spellings';
import { requestView } from '../support/request';

const SETTINGS = { browserUrl: 'https://auth.example.com', allowedHosts: [] as string[] };
const base = { credential: 'cookie', policy: 'default' } as const;
const SUBJECT = {
  identityId: 'id-1',
  sessionId: 'sess-1',
  aal: 'aal2' as const,
  session: {
    id: 'sess-1',
    identityId: 'id-1',
    aal: 'aal2' as const,
    expiresAt: Date.now() + 60_000,
    methods: ['password', 'totp'],
    traits: new Map(),
  },
};
const NAVIGATION = [['sec-fetch-mode', 'navigate']] as const;

// The google.rpc.Code of each decision, as Envoy's access logs and tracing show it.
const cases: ReadonlyArray<{ decision: Decision; navigation?: boolean; grpcCode: number }> = [
  { decision: { ...base, kind: 'allow', stripCredentials: true, reason: 'ok', subject: SUBJECT }, grpcCode: 0 },
  { decision: { ...base, kind: 'unauthenticated' }, navigation: true, grpcCode: 16 },
  { decision: { ...base, kind: 'unauthenticated' }, grpcCode: 16 },
  { decision: { ...base, kind: 'aal_too_low', subject: SUBJECT }, navigation: true, grpcCode: 16 },
  { decision: { ...base, kind: 'aal_too_low', subject: SUBJECT }, grpcCode: 7 },
  { decision: { ...base, kind: 'rule_deny' }, grpcCode: 7 },
  { decision: { ...base, kind: 'kratos_unavailable', detail: 'x' }, grpcCode: 14 },
  { decision: { ...base, kind: 'bad_request', detail: 'x' }, grpcCode: 3 },
  { decision: { ...base, kind: 'request_too_large', detail: 'x' }, grpcCode: 8 },
  { decision: { ...base, kind: 'request_timeout', detail: 'x' }, grpcCode: 4 },
  { decision: { ...base, kind: 'internal_error', detail: 'x' }, grpcCode: 13 },
];

for (const { decision, navigation, grpcCode } of cases) {
  test(`${decision.kind}${navigation ? ' (navigation)' : ''} → gRPC status ${grpcCode}`, () => {
    const view = requestView({ headers: navigation ? NAVIGATION : [] });
    assert.equal(toCheckResponse(answer(decision, view, SETTINGS), {}).status.code, grpcCode);
  });
}

test('an allow with a subject overwrites the identity headers and removes every other "-"/"_"/"." spelling of them', () => {
  const response = toCheckResponse(
    answer({ ...base, kind: 'allow', stripCredentials: true, reason: 'ok', subject: SUBJECT }, requestView(), SETTINGS),
    {},
  );
  assert.deepEqual(
    response.ok_response?.headers.map((option) => [option.header.key, option.append.value]),
    [
      ['x-kratos-identity-id', false],
      ['x-kratos-session-id', false],
      ['x-kratos-aal', false],
    ],
  );
  assert.deepEqual(
    [...(response.ok_response?.headers_to_remove ?? [])].sort(),
    IDENTITY_HEADERS.flatMap(otherSpellings).sort(),
  );
  for (const mixed of [
    'x-kratos-identity_id',
    'x_kratos-session-id',
    'x-kratos_aal',
    'x.kratos.aal',
    'x-kratos.identity_id',
  ])
    assert.ok(response.ok_response?.headers_to_remove.includes(mixed), mixed);
});

test('an allow without a subject removes every spelling of the identity headers a client may have forged', () => {
  const response = toCheckResponse(
    answer(
      { ...base, credential: 'none', kind: 'allow', stripCredentials: true, reason: 'anonymous', subject: null },
      requestView(),
      SETTINGS,
    ),
    {},
  );
  assert.deepEqual(response.ok_response?.headers, []);
  assert.deepEqual(
    [...(response.ok_response?.headers_to_remove ?? [])].sort(),
    IDENTITY_HEADERS.flatMap(allSpellings).sort(),
  );
});

test("a renewed session cookie: appended to the client response on an allow (beside the app's), not appended on a denial (Envoy would drop it)", () => {
  const refreshedCookie = ['ory_kratos_session=a; Path=/', 'ory_kratos_session=b; Path=/app'];
  const allowed = toCheckResponse(
    answer(
      { ...base, kind: 'allow', stripCredentials: true, reason: 'ok', subject: SUBJECT, refreshedCookie },
      requestView(),
      SETTINGS,
    ),
    {},
  );
  assert.deepEqual(
    allowed.ok_response?.response_headers_to_add.map((option) => [
      option.header.key,
      option.header.value,
      option.append.value,
    ]),
    refreshedCookie.map((line) => ['set-cookie', line, true]),
  );
  assert.ok(
    allowed.ok_response?.headers.every((option) => option.header.key !== 'set-cookie'),
    'never on the upstream request',
  );
  const denied = toCheckResponse(
    answer(
      { ...base, kind: 'aal_too_low', subject: SUBJECT, refreshedCookie },
      requestView({ headers: NAVIGATION }),
      SETTINGS,
    ),
    {},
  );
  assert.deepEqual(
    denied.denied_response?.headers
      .filter((option) => option.header.key === 'set-cookie')
      .map((option) => [option.header.value, option.append.value]),
    refreshedCookie.map((line) => [line, false]),
  );
});
