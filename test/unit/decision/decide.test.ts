// decide() head-on: request view, session and available AAL in, Decision out, with scripted
// Kratos sources instead of the wire harness, so every branch of the core is named here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load';
import { decide, type DecisionDependencies } from '../../../src/decision/decide';
import type { Decision } from '../../../src/decision/decision';
import type { KratosSession } from '../../../src/kratos/types';
import type {
  AvailableAalAnswer,
  AvailableAalSource,
  LookupContext,
  LookupOptions,
  SessionSource,
  SessionAnswer,
} from '../../../src/kratos/sources';
import type { RefreshedCookie } from '../../../src/kratos/refreshed-cookie';
import { compilePolicy } from '../../../src/policy/policy';
import { kratosCredentialExtractor } from '../../../src/request/credentials';
import { requestView, type ViewOptions } from '../support/request';

const MINUTE = 60_000;

/** `authenticatedAgo` null: whoami gave no authenticated_at. */
function session(aal: KratosSession['aal'], authenticatedAgo: number | null = 0): KratosSession {
  const now = Date.now();
  return {
    id: 'session-1',
    identityId: 'identity-1',
    aal,
    expiresAt: now + 60 * MINUTE,
    authenticatedAt: authenticatedAgo === null ? undefined : now - authenticatedAgo,
    methods: aal === 'aal2' ? ['password', 'totp'] : ['password'],
    traits: new Map(),
  };
}

/** Answers per lookup, in order: a cached answer first, then what `fresh: true` asks Kratos. */
interface Script<T> {
  first: T;
  fresh?: T;
}

interface Calls {
  whoami: Array<LookupOptions | undefined>;
  availableAal: Array<LookupOptions | undefined>;
  stricter: number;
}

function scripted<T>(script: Script<T> | undefined, what: string, options: LookupOptions | undefined): T {
  if (script === undefined) throw new Error(`${what} was not expected to be asked`);
  if (options?.fresh) {
    if (script.fresh === undefined) throw new Error(`${what} was not expected to be asked again, fresh`);
    return script.fresh;
  }
  return script.first;
}

interface Case {
  name: string;
  policy?: unknown;
  request?: ViewOptions;
  whoami?: Script<SessionAnswer>;
  available?: Script<AvailableAalAnswer>;
  whoamiEnforcesHighestAvailable?: boolean;
  /** The fields of the Decision that matter for the case (subject compared by its ids). */
  expected: Partial<Record<keyof Flat, unknown>>;
  calls?: Partial<{ whoami: number; availableAal: number; stricter: number }>;
}

type Flat = {
  kind: string;
  reason: string;
  credential: string;
  policy: string;
  subject: string | null;
  stripCredentials: boolean;
  stepUp: boolean;
  refreshedCookie: boolean;
};

function flatten(decision: Decision): Partial<Flat> {
  const flat: Partial<Flat> = { kind: decision.kind, credential: decision.credential, policy: decision.policy };
  if ('reason' in decision) flat.reason = decision.reason;
  if ('subject' in decision)
    flat.subject = decision.subject
      ? `${decision.subject.identityId}/${decision.subject.sessionId}/${decision.subject.aal}`
      : null;
  if ('stripCredentials' in decision) flat.stripCredentials = decision.stripCredentials;
  if ('stepUp' in decision) flat.stepUp = decision.stepUp;
  if ('refreshedCookie' in decision) flat.refreshedCookie = decision.refreshedCookie !== undefined;
  return flat;
}

async function run(entry: Case): Promise<{ decision: Decision; calls: Calls }> {
  const config = parseConfig({ policy: entry.policy ?? {} }, {});
  const calls: Calls = { whoami: [], availableAal: [], stricter: 0 };
  const sessions: SessionSource = {
    whoami: async (_credential, _context, options) => {
      calls.whoami.push(options);
      return scripted(entry.whoami, 'whoami', options);
    },
  };
  const identities: AvailableAalSource = {
    availableAal: async (_identityId, _context, options) => {
      calls.availableAal.push(options);
      return scripted(entry.available, 'availableAal', options);
    },
  };
  const deps: DecisionDependencies = {
    policy: compilePolicy(config.policy),
    extractCredential: kratosCredentialExtractor('ory_kratos_session'),
    sessions,
    identities,
    whoamiEnforcesHighestAvailable: entry.whoamiEnforcesHighestAvailable ?? false,
    onKratosStricterThanPolicy: () => {
      calls.stricter += 1;
    },
  };
  const context: LookupContext = { requestId: undefined, deadline: Infinity };
  return { decision: await decide(requestView(entry.request), context, deps), calls };
}

const COOKIE: ViewOptions = { headers: [['cookie', 'ory_kratos_session=abc']] };
const TOKEN: ViewOptions = { headers: [['x-session-token', 'token-1']] };
const RENEWED: RefreshedCookie = ['ory_kratos_session=renewed; Path=/; HttpOnly'];

const active = (
  aal: KratosSession['aal'],
  extra: Partial<Extract<SessionAnswer, { kind: 'active' }>> = {},
  authenticatedAgo?: number,
): SessionAnswer => ({
  kind: 'active',
  session: session(aal, authenticatedAgo),
  ...extra,
});

const SUBJECT = (aal: string) => `identity-1/session-1/${aal}`;

const CASES: Case[] = [
  // Selection: refused before any credential is looked up.
  {
    name: 'two readings of the path under different rules: bad_request, Kratos never asked',
    policy: {
      rules: [
        { name: 'public', paths: ['/public/*'], anonymous: true },
        { name: 'admin', paths: ['/admin/*'], cookie: 'aal2' },
      ],
    },
    request: { ...COOKIE, path: '/public/%2e%2e/admin/x' },
    expected: { kind: 'bad_request', policy: 'none', credential: 'cookie' },
  },
  {
    name: 'a method override naming a method under another rule: bad_request',
    policy: { rules: [{ name: 'kept', paths: ['/records/*'], methods: ['DELETE'], deny: true }] },
    request: { method: 'POST', path: '/records/1', headers: [['x-http-method-override', 'DELETE']] },
    expected: { kind: 'bad_request', policy: 'none', credential: 'none' },
  },
  {
    name: 'context_extensions names a policy that does not exist: internal_error (fails closed)',
    request: { ...TOKEN, contextExtensions: { policy: 'nope' } },
    expected: { kind: 'internal_error', policy: 'nope', credential: 'token' },
  },
  {
    name: 'a deny rule: rule_deny without a lookup',
    policy: { rules: [{ name: 'internal', paths: ['/internal/*'], deny: true }] },
    request: { ...COOKIE, path: '/internal/x' },
    expected: { kind: 'rule_deny', policy: 'internal', credential: 'cookie' },
  },
  {
    name: 'a CORS preflight with cors_preflight on: allowed without credentials',
    policy: { cors_preflight: true },
    request: {
      method: 'OPTIONS',
      headers: [
        ['origin', 'https://a.example'],
        ['access-control-request-method', 'PUT'],
      ],
    },
    expected: { kind: 'allow', reason: 'cors_preflight', subject: null, stripCredentials: true },
  },
  {
    name: 'an OPTIONS without Access-Control-Request-Method is no preflight: unauthenticated',
    policy: { cors_preflight: true },
    request: { method: 'OPTIONS', headers: [['origin', 'https://a.example']] },
    expected: { kind: 'unauthenticated', credential: 'none' },
  },
  // Anonymous rules: a session is looked up only for the identity headers.
  {
    name: 'anonymous rule without a credential: allowed, no subject, no lookup',
    policy: { rules: [{ name: 'public', paths: ['/public/*'], anonymous: true }] },
    request: { path: '/public/x' },
    expected: { kind: 'allow', reason: 'anonymous', subject: null },
  },
  {
    name: 'anonymous rule with a token session meeting the default policy: allowed with its subject',
    policy: { rules: [{ name: 'public', paths: ['/public/*'], anonymous: true, strip_credentials: false }] },
    request: { ...TOKEN, path: '/public/x' },
    whoami: { first: active('aal1', { refreshedCookie: RENEWED }) },
    expected: { kind: 'allow', reason: 'anonymous', subject: SUBJECT('aal1'), stripCredentials: false },
  },
  {
    name: 'anonymous rule with an aal1 cookie of an identity that has aal2: allowed, but anonymous (no subject)',
    policy: { rules: [{ name: 'public', paths: ['/public/*'], anonymous: true }] },
    request: { ...COOKIE, path: '/public/x' },
    whoami: { first: active('aal1') },
    available: { first: { kind: 'known', aal: 'aal2' } },
    expected: { kind: 'allow', reason: 'anonymous', subject: null },
  },
  {
    name: 'anonymous rule with a credential Kratos refuses: allowed, no subject',
    policy: { rules: [{ name: 'public', paths: ['/public/*'], anonymous: true }] },
    request: { ...COOKIE, path: '/public/x' },
    whoami: { first: { kind: 'unauthenticated' } },
    expected: { kind: 'allow', reason: 'anonymous', subject: null },
  },
  // Credentials.
  {
    name: 'no credential: unauthenticated, no lookup',
    expected: { kind: 'unauthenticated', credential: 'none', policy: 'default' },
  },
  {
    name: 'a malformed token (control bytes): unauthenticated, never sent to Kratos',
    request: { headers: [['x-session-token', 'a\u0001b']] },
    expected: { kind: 'unauthenticated', credential: 'token' },
  },
  {
    name: 'Kratos says 401: unauthenticated',
    request: TOKEN,
    whoami: { first: { kind: 'unauthenticated' } },
    expected: { kind: 'unauthenticated', credential: 'token' },
  },
  {
    name: 'Kratos unreachable: kratos_unavailable (fails closed)',
    request: TOKEN,
    whoami: { first: { kind: 'unavailable', detail: 'connect ECONNREFUSED' } },
    expected: { kind: 'kratos_unavailable' },
  },
  {
    name: 'Kratos refuses the AAL where the policy wants aal1: aal_too_low without subject, and the mismatch is reported',
    request: TOKEN,
    whoami: { first: { kind: 'aal_refused' } },
    expected: { kind: 'aal_too_low', subject: null },
    calls: { stricter: 1 },
  },
  {
    name: 'Kratos refuses the AAL where the policy wants highest_available: aal_too_low, no mismatch reported',
    request: COOKIE,
    whoami: { first: { kind: 'aal_refused' } },
    expected: { kind: 'aal_too_low', subject: null },
    calls: { stricter: 0 },
  },
  // The AAL.
  {
    name: 'a token session at aal1 under the default token policy (aal1): allowed, no admin call',
    request: TOKEN,
    whoami: { first: active('aal1', { refreshedCookie: RENEWED }) },
    expected: {
      kind: 'allow',
      reason: 'ok',
      subject: SUBJECT('aal1'),
      credential: 'token',
      stripCredentials: true,
      refreshedCookie: true,
    },
    calls: { availableAal: 0 },
  },
  {
    name: 'an aal0 session meets nothing, not even aal1',
    request: TOKEN,
    whoami: { first: active('aal0') },
    expected: { kind: 'aal_too_low', subject: SUBJECT('aal0') },
  },
  {
    name: 'an aal2 cookie session: allowed without asking the admin API',
    request: COOKIE,
    whoami: { first: active('aal2') },
    expected: { kind: 'allow', reason: 'ok', subject: SUBJECT('aal2') },
    calls: { availableAal: 0 },
  },
  {
    name: 'an aal1 cookie of an identity with a second factor: aal_too_low (step-up) carrying the renewed cookie',
    request: COOKIE,
    whoami: { first: active('aal1', { refreshedCookie: RENEWED }) },
    available: { first: { kind: 'known', aal: 'aal2' } },
    expected: { kind: 'aal_too_low', subject: SUBJECT('aal1'), refreshedCookie: true },
  },
  {
    name: 'an aal1 cookie of an identity without a second factor: allowed',
    request: COOKIE,
    whoami: { first: active('aal1') },
    available: { first: { kind: 'known', aal: 'aal1' } },
    expected: { kind: 'allow', reason: 'ok', subject: SUBJECT('aal1') },
  },
  {
    name: 'a cached "aal2 available" is confirmed before denying; the fresh answer allows',
    request: COOKIE,
    whoami: { first: active('aal1') },
    available: { first: { kind: 'known', aal: 'aal2', cached: true }, fresh: { kind: 'known', aal: 'aal1' } },
    expected: { kind: 'allow', reason: 'ok' },
    calls: { availableAal: 2 },
  },
  {
    name: 'the admin API unreachable for an aal1 cookie: kratos_unavailable (fails closed)',
    request: COOKIE,
    whoami: { first: active('aal1') },
    available: { first: { kind: 'unavailable', detail: 'admin 500' } },
    expected: { kind: 'kratos_unavailable' },
  },
  {
    name: 'the identity deactivated: unauthenticated',
    request: COOKIE,
    whoami: { first: active('aal1') },
    available: { first: { kind: 'identity_inactive' } },
    expected: { kind: 'unauthenticated' },
  },
  {
    name: 'whoami_enforces_highest_available: an aal1 cookie whoami accepted is allowed without the admin API',
    request: COOKIE,
    whoamiEnforcesHighestAvailable: true,
    whoami: { first: active('aal1') },
    expected: { kind: 'allow', reason: 'ok' },
    calls: { availableAal: 0 },
  },
  {
    name: 'a rule asking aal2 of tokens: an aal1 token is too low without an admin call',
    policy: { rules: [{ name: 'admin', paths: ['/admin/*'], token: 'aal2' }] },
    request: { ...TOKEN, path: '/admin/x' },
    whoami: { first: active('aal1') },
    expected: { kind: 'aal_too_low', policy: 'admin', subject: SUBJECT('aal1') },
    calls: { availableAal: 0 },
  },
  // A cached session is never the only reason for a denial.
  {
    name: 'a cached aal1 session falling short is asked about again; the fresh aal2 allows',
    request: COOKIE,
    whoami: { first: active('aal1', { cached: true }), fresh: active('aal2') },
    available: { first: { kind: 'known', aal: 'aal2' } },
    expected: { kind: 'allow', subject: SUBJECT('aal2') },
    calls: { whoami: 2 },
  },
  {
    name: 'a cached session that passes is not asked about again',
    request: TOKEN,
    whoami: { first: active('aal1', { cached: true }) },
    expected: { kind: 'allow' },
    calls: { whoami: 1 },
  },
  {
    name: 'a session from Kratos (not cached) falling short is not asked about twice',
    request: COOKIE,
    whoami: { first: active('aal1') },
    available: { first: { kind: 'known', aal: 'aal2' } },
    expected: { kind: 'aal_too_low' },
    calls: { whoami: 1 },
  },
  // max_age.
  {
    name: 'max_age met: allowed',
    policy: { token: { aal: 'aal1', max_age: '10m' } },
    request: TOKEN,
    whoami: { first: active('aal1', {}, 5 * MINUTE) },
    expected: { kind: 'allow' },
  },
  {
    name: 'max_age passed: refresh_required, no step-up',
    policy: { token: { aal: 'aal1', max_age: '10m' } },
    request: TOKEN,
    whoami: { first: active('aal1', { refreshedCookie: RENEWED }, 11 * MINUTE) },
    expected: { kind: 'refresh_required', stepUp: false, subject: SUBJECT('aal1'), refreshedCookie: true },
  },
  {
    name: 'max_age passed and the AAL short: one refresh_required with step-up',
    policy: { cookie: { aal: 'aal2', max_age: '10m' } },
    request: COOKIE,
    whoami: { first: active('aal1', {}, 11 * MINUTE) },
    expected: { kind: 'refresh_required', stepUp: true },
  },
  {
    name: 'max_age without an authenticated_at from whoami: kratos_unavailable, not a login loop',
    policy: { token: { aal: 'aal1', max_age: '10m' } },
    request: TOKEN,
    whoami: { first: { kind: 'active', session: session('aal1', null) } },
    expected: { kind: 'kratos_unavailable' },
  },
  {
    name: 'an authenticated_at in the future (Kratos clock ahead) counts as age 0',
    policy: { token: { aal: 'aal1', max_age: '10m' } },
    request: TOKEN,
    whoami: { first: active('aal1', {}, -5 * MINUTE) },
    expected: { kind: 'allow' },
  },
  {
    name: "max_age does not turn a refusal into a refresh: Kratos's 401 stays unauthenticated",
    policy: { token: { aal: 'aal1', max_age: '10m' } },
    request: TOKEN,
    whoami: { first: { kind: 'unauthenticated' } },
    expected: { kind: 'unauthenticated' },
  },
];

describe('decide(): request view, session and available AAL in, Decision out', () => {
  for (const entry of CASES) {
    test(entry.name, async () => {
      const { decision, calls } = await run(entry);
      const flat = flatten(decision);
      for (const [field, value] of Object.entries(entry.expected)) {
        assert.deepEqual(flat[field as keyof Flat], value, `${field} of ${JSON.stringify(flat)}`);
      }
      const counted = {
        whoami: calls.whoami.length,
        availableAal: calls.availableAal.length,
        stricter: calls.stricter,
      };
      for (const [what, count] of Object.entries(entry.calls ?? {})) {
        assert.equal(counted[what as keyof typeof counted], count, `${what} calls`);
      }
    });
  }

  test('a decision that does not rest on the session never carries its renewed cookie', async () => {
    const { decision } = await run({
      name: 'anonymous',
      policy: { rules: [{ name: 'public', paths: ['/public/*'], anonymous: true }] },
      request: { ...TOKEN, path: '/public/x' },
      whoami: { first: active('aal1', { refreshedCookie: RENEWED }) },
      expected: {},
    });
    assert.equal('refreshedCookie' in decision, false, 'a shared cache could store a public page with the Set-Cookie');
  });
});
