/** The trait reader, the JWT cache's reissue margin (an injected clock, no timers), and authorize failing closed. */
import { NO_TRACING } from '../../../src/observability/tracing';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authorize, type AuthorizeDependencies } from '../../../src/authorize';
import { parseConfig } from '../../../src/config/load';
import type { KratosSession } from '../../../src/kratos/types';
import { compilePolicy } from '../../../src/policy/policy';
import { kratosCredentialExtractor } from '../../../src/request/credentials';
import { upstreamCredentialsReader } from '../../../src/upstream/upstream-credentials';
import { SigningKey } from '../../../src/upstream/signing-key';
import { headerReading, readTraits } from '../../../src/kratos/traits';
import { UpstreamIdentity, type TokenIssuer } from '../../../src/upstream/upstream-identity';
import { UpstreamJwtIssuer, type JwtResult } from '../../../src/upstream/upstream-jwt';
import { verifyJwt, writeSigningKey } from '../../support/jwt';
import { requestView } from '../support/request';

describe('readTraits', () => {
  const traits = JSON.parse(
    '{"email":"a@example.com","name":{"first":"Ada"},"age":36,"ratio":1.5,"admin":true,"tags":["x"],"nothing":null,"__proto__":{"polluted":"yes"},"big":1e400}',
  ) as unknown;

  test('strings and finite numbers by dot path; own properties only; other values left out as not_text; missing and null absent', () => {
    const read = readTraits(traits, [
      'traits.email',
      'traits.name.first',
      'traits.age',
      'traits.ratio',
      'traits.admin',
      'traits.tags',
      'traits.nothing',
      'traits.missing',
      'traits.name.first.deeper',
      'traits.tags.0',
      'traits.constructor',
      'traits.__proto__.polluted',
      'traits.big',
      'traits.email.length',
    ]);
    assert.deepEqual(Object.fromEntries(read), {
      'traits.email': { text: 'a@example.com' },
      'traits.name.first': { text: 'Ada' },
      'traits.age': { text: '36' },
      'traits.ratio': { text: '1.5' },
      'traits.admin': { leftOut: 'not_text' },
      'traits.tags': { leftOut: 'not_text' },
      // JSON.parse makes "__proto__" an own property: read as data, never as the prototype.
      'traits.__proto__.polluted': { text: 'yes' },
      'traits.big': { leftOut: 'not_text' },
    });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('control characters and over 1 KiB (UTF-8 bytes) are unsafe; a header also refuses non-ASCII and outer spaces', () => {
    const read = readTraits(
      {
        a: 'x\u0000y',
        b: 'tab\there',
        c: 'é'.repeat(513),
        d: 'é'.repeat(512),
        e: 'Łukasz',
        f: ' padded',
        g: '',
        h: 'inner space',
        i: '\u0085',
      },
      ['traits.a', 'traits.b', 'traits.c', 'traits.d', 'traits.e', 'traits.f', 'traits.g', 'traits.h', 'traits.i'],
    );
    const claim = (path: string) => read.get(path);
    const header = (path: string) => headerReading(read.get(path) ?? { leftOut: 'unsafe' });
    assert.deepEqual(
      [claim('traits.a'), claim('traits.b'), claim('traits.c'), claim('traits.i')],
      [{ leftOut: 'unsafe' }, { leftOut: 'unsafe' }, { leftOut: 'unsafe' }, { leftOut: 'unsafe' }],
    );
    assert.deepEqual(claim('traits.d'), { text: 'é'.repeat(512) }, '1024 bytes exactly is fine in a claim');
    assert.deepEqual(claim('traits.e'), { text: 'Łukasz' });
    assert.deepEqual(
      [header('traits.d'), header('traits.e'), header('traits.f'), header('traits.g')],
      [{ leftOut: 'unsafe' }, { leftOut: 'unsafe' }, { leftOut: 'unsafe' }, { leftOut: 'unsafe' }],
    );
    assert.deepEqual(header('traits.h'), { text: 'inner space' });
  });
});

describe('UpstreamJwtIssuer', () => {
  const key = SigningKey.load(writeSigningKey('ES256'));
  const jwks = [{ ...key.publicJwk }];
  const START = Date.UTC(2026, 11, 1, 12, 0, 0);
  const session = (expiresAt: number, aal: KratosSession['aal'] = 'aal1'): KratosSession => ({
    id: 's',
    identityId: 'i',
    aal,
    expiresAt,
    authenticatedAt: START - 1000,
    methods: ['password'],
    traits: new Map(),
  });

  function issuer(ttl: number, capacity = 10) {
    let now = START;
    const results: JwtResult[] = [];
    const jwt = new UpstreamJwtIssuer(
      { issuer: 'iss', audience: 'aud', ttl, keys: [key] },
      capacity,
      (result) => results.push(result),
      () => now,
    );
    return { jwt, results, at: (ms: number) => (now = START + ms) };
  }

  test('a token is reused until 30 s before its exp, then reissued', async () => {
    const { jwt, results, at } = issuer(300_000);
    const first = await jwt.tokenFor(session(START + 3_600_000), {});
    at(269_999);
    assert.equal(await jwt.tokenFor(session(START + 3_600_000), {}), first);
    at(270_000);
    const second = await jwt.tokenFor(session(START + 3_600_000), {});
    assert.notEqual(second, first);
    assert.deepEqual(results, ['issued', 'cached', 'issued']);
    assert.equal(verifyJwt(second, jwks, START + 270_000).payload.exp, Math.floor((START + 570_000) / 1000));
  });

  test('a session ending before the ttl caps exp; a short lifetime is reused for half of it', async () => {
    const { jwt, results, at } = issuer(300_000);
    const ending = session(START + 20_500);
    const token = await jwt.tokenFor(ending, {});
    assert.equal(verifyJwt(token, jwks, START).payload.exp, Math.floor((START + 20_500) / 1000));
    at(9_999);
    assert.equal(await jwt.tokenFor(ending, {}), token);
    at(10_000);
    assert.notEqual(await jwt.tokenFor(ending, {}), token);
    assert.deepEqual(results, ['issued', 'cached', 'issued']);
  });

  test('what the token says is its cache key: another AAL or trait claim is another token; the cache is bounded', async () => {
    const { jwt, results } = issuer(300_000, 1);
    const live = START + 3_600_000;
    await jwt.tokenFor(session(live), { email: 'a' });
    await jwt.tokenFor(session(live, 'aal2'), { email: 'a' });
    await jwt.tokenFor(session(live, 'aal2'), { email: 'b' });
    await jwt.tokenFor(session(live, 'aal2'), { email: 'b' });
    // Capacity 1: the first token was evicted.
    await jwt.tokenFor(session(live), { email: 'a' });
    assert.deepEqual(results, ['issued', 'issued', 'issued', 'cached', 'issued']);
  });
});

describe('authorize with upstream identity', () => {
  const config = parseConfig({}, {});
  const live: KratosSession = {
    id: 's-1',
    identityId: 'i-1',
    aal: 'aal1',
    expiresAt: Date.now() + 60_000,
    methods: ['password'],
    traits: new Map([['traits.email', { text: 'a@example.com' }]]),
  };
  const deps = (issuer: TokenIssuer): AuthorizeDependencies => ({
    decision: {
      policy: compilePolicy(config.policy),
      extractCredential: kratosCredentialExtractor(config.kratos.session_cookie),
      sessions: { whoami: async () => ({ kind: 'active', session: live }) },
      identities: { availableAal: async () => ({ kind: 'known', aal: 'aal1' }) },
      whoamiEnforcesHighestAvailable: false,
      onKratosStricterThanPolicy: () => undefined,
    },
    loginUrl: { browserUrl: 'https://auth.example.com', allowedHosts: [] },
    upstream: new UpstreamIdentity({ 'x-user-email': 'traits.email' }, { header: 'x-kratos-jwt', issuer, claims: {} }),
    upstreamCredentials: upstreamCredentialsReader(config.kratos.session_cookie),
    observe: () => undefined,
    tracing: NO_TRACING,
  });
  const reading = {
    ok: true as const,
    view: requestView({ headers: [['x-session-token', 'ory_st_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']] }),
  };

  test('an allow carries the trait header and the token the issuer made for that session', async () => {
    const { answer } = await authorize(
      'grpc',
      reading,
      Infinity,
      deps({ tokenFor: async (session) => `token-for-${session.id}` }),
    );
    assert.deepEqual(answer.kind === 'allow' && answer.identityHeaders.slice(3), [
      ['x-user-email', 'a@example.com'],
      ['x-kratos-jwt', 'token-for-s-1'],
    ]);
  });

  test('a token that cannot be signed turns the allow into a 500 denial, never an allow without it', async () => {
    const { decision, answer } = await authorize(
      'grpc',
      reading,
      Infinity,
      deps({ tokenFor: async () => Promise.reject(new Error('signing failed')) }),
    );
    assert.equal(decision.kind, 'internal_error');
    assert.equal(decision.credential, 'token', 'the credential and policy of the decision are kept');
    assert.equal(answer.kind === 'deny' && answer.status, 500);
  });
});
