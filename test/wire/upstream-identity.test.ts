/**
 * identity_headers and upstream_jwt through the gRPC wire (official protos) and the HTTP front
 * doors, against the Kratos emulator. Every JWT is checked by an independent verifier
 * (node:crypto, test/support/jwt.ts) against the JWK Set fetched from the ops port.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { upstreamHeaders, type OfficialCheckResponse } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import { HTTP_DOORS } from '../support/http-client';
import { otherSpellings } from '../support/spellings';
import { fetchJwks, KEY_TYPES, tamperedClaim, verifyJwt, writeSigningKey, type Jwk } from '../support/jwt';
import { AAL1, TOTP } from '../support/fixtures';

const TRAIT_HEADERS = {
  'x-user-email': 'traits.email',
  'x-user-name': 'traits.name.first',
  'x-user-age': 'traits.age',
};
const CONFIGURED = ['x-user-email', 'x-user-name', 'x-user-age', 'x-kratos-jwt'];
const lookalikes = (names: readonly string[]) => names.flatMap(otherSpellings);
const X_KRATOS = ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal'];
/** headers_to_remove as a set: its order says nothing. */
const asSet = (names: readonly string[] | undefined) => [...(names ?? [])].sort();

function jwtConfig(keys: string[], extra: Record<string, unknown> = {}) {
  return {
    issuer: 'https://authz.example.com',
    audience: 'orders',
    ttl: '2m',
    keys,
    claims: { email: 'traits.email', given_name: 'traits.name.first' },
    ...extra,
  };
}

let h: Harness;
let jwks: Jwk[];
before(async () => {
  h = await startHarness({
    config: {
      identity_headers: TRAIT_HEADERS,
      upstream_jwt: jwtConfig([writeSigningKey('ES256')]),
      // The identity headers are the subject here: the credentials upstream have their own tests.
      policy: { strip_credentials: false, rules: [{ name: 'public', paths: ['/public/*'], anonymous: true }] },
    },
  });
  jwks = (await fetchJwks(h.service.httpPort)).keys;
});
after(() => h.close());

function cookieOf(session: ReturnType<Harness['newSession']>): string {
  return h.emulator.cookieHeaderFor(session);
}

function tokenOf(response: OfficialCheckResponse): string {
  const token = upstreamHeaders(response)['x-kratos-jwt'];
  assert.ok(token, 'the allow carries x-kratos-jwt');
  return token;
}

async function metric(line: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${h.service.httpPort}/metrics`)).text();
  return Number(line.exec(text)?.[1] ?? 0);
}

describe('an allow with a session', () => {
  test('sets the trait headers and a JWT the published key verifies, overwriting what the client sent', async () => {
    const identity = h.emulator.addIdentity({
      traits: { email: 'alice@example.com', name: { first: 'Alice', last: 'Liddell' }, age: 42 },
    });
    const session = h.newSession(identity, { methods: AAL1 });
    const forged = { 'x-user-email': 'mallory@example.com', 'x-kratos-jwt': 'forged', 'x-user-name': 'Mallory' };
    const response = await h.client.check({ headers: { cookie: cookieOf(session), ...forged } });
    assert.equal(response.status?.code, 0);
    const headers = upstreamHeaders(response);
    assert.equal(headers['x-user-email'], 'alice@example.com');
    assert.equal(headers['x-user-name'], 'Alice');
    assert.equal(headers['x-user-age'], '42', 'a number trait is passed as its decimal text');
    for (const option of response.ok_response?.headers ?? [])
      assert.deepEqual(option.append, { value: false }, `${option.header.key} must overwrite`);
    assert.deepEqual(asSet(response.ok_response?.headers_to_remove), asSet(lookalikes([...X_KRATOS, ...CONFIGURED])));

    const before = Date.now();
    const { header, payload } = verifyJwt(tokenOf(response), jwks);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'JWT');
    assert.equal(header.kid, jwks[0]?.kid);
    assert.equal(payload.iss, 'https://authz.example.com');
    assert.equal(payload.aud, 'orders');
    assert.equal(payload.sub, identity);
    assert.equal(payload.sid, session.id);
    assert.equal(payload.aal, 'aal1');
    assert.deepEqual(payload.amr, ['password']);
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.given_name, 'Alice');
    assert.equal(payload.nbf, payload.iat);
    assert.ok(Math.abs(payload.iat - before / 1000) < 5, 'iat is now');
    assert.equal(payload.exp - payload.iat, 120, 'exp = iat + upstream_jwt.ttl');
    assert.match(payload.jti, /^[0-9a-f-]{36}$/);
    assert.deepEqual(Object.keys(payload).sort(), [
      'aal',
      'amr',
      'aud',
      'email',
      'exp',
      'given_name',
      'iat',
      'iss',
      'jti',
      'nbf',
      'sid',
      'sub',
    ]);
  });

  test('a tampered token (a claim changed, or the signature) does not verify', async () => {
    const identity = h.emulator.addIdentity({ traits: { email: 'eve@example.com' } });
    const token = tokenOf(
      await h.client.check({ headers: { cookie: cookieOf(h.newSession(identity, { methods: AAL1 })) } }),
    );
    verifyJwt(token, jwks);
    assert.throws(() => verifyJwt(tamperedClaim(token, 'aal', 'aal2'), jwks), /signature does not verify/);
    assert.throws(() => verifyJwt(tamperedClaim(token, 'sub', 'someone-else'), jwks), /signature does not verify/);
    const [head, body, signature = ''] = token.split('.');
    const flipped = Buffer.from(signature, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    assert.throws(
      () => verifyJwt(`${head}.${body}.${flipped.toString('base64url')}`, jwks),
      /signature does not verify/,
    );
  });

  test('the token never outlives the session: exp ≤ expires_at when the session ends before the ttl', async () => {
    const identity = h.emulator.addIdentity();
    const expiresAt = new Date(Date.now() + 45_500);
    const session = h.newSession(identity, { methods: AAL1, expiresAt });
    const { payload } = verifyJwt(tokenOf(await h.client.check({ headers: { cookie: cookieOf(session) } })), jwks);
    assert.ok(
      payload.exp * 1000 <= expiresAt.getTime(),
      `exp ${payload.exp} ≤ session expiry ${expiresAt.getTime() / 1000}`,
    );
    assert.ok(payload.exp * 1000 > expiresAt.getTime() - 1000, 'and no shorter than the session allows');
  });

  test('a token credential gets the same headers and an aal1 token', async () => {
    const identity = h.emulator.addIdentity({ traits: { email: 'api@example.com', name: { first: 'Api' } } });
    const session = h.newSession(identity, { methods: AAL1 });
    const response = await h.client.check({ headers: { 'x-session-token': session.token } });
    assert.equal(upstreamHeaders(response)['x-user-email'], 'api@example.com');
    assert.equal(verifyJwt(tokenOf(response), jwks).payload.aal, 'aal1');
  });
});

describe('the token cache', () => {
  test('the same session gets the same token; a step-up gets a new one with aal2 and the second method in amr', async () => {
    const identity = h.emulator.addIdentity({ credentials: TOTP });
    const session = h.newSession(identity, { methods: AAL1 });
    const token = { headers: { 'x-session-token': session.token } };
    const cachedBefore = await metric(/^kratos_ext_authz_upstream_jwts_total\{result="cached"\} (\d+)$/m);
    const first = tokenOf(await h.client.check(token));
    assert.equal(tokenOf(await h.client.check(token)), first, 'reused while it describes the session');
    assert.equal(await metric(/^kratos_ext_authz_upstream_jwts_total\{result="cached"\} (\d+)$/m), cachedBefore + 1);

    h.emulator.stepUp(session.id);
    const stepped = tokenOf(await h.client.check(token));
    assert.notEqual(stepped, first);
    const { payload } = verifyJwt(stepped, jwks);
    assert.equal(payload.sid, session.id, 'the same session');
    assert.equal(payload.aal, 'aal2');
    assert.deepEqual(payload.amr, ['password', 'totp']);
    assert.notEqual(payload.jti, verifyJwt(first, jwks).payload.jti);
  });

  test('a re-login on the same session (authenticated_at moves) or changed traits get a new token', async () => {
    const identity = h.emulator.addIdentity({ traits: { email: 'old@example.com' } });
    const session = h.newSession(identity, { methods: AAL1, authenticatedAt: new Date(Date.now() - 60_000) });
    const token = { headers: { 'x-session-token': session.token } };
    const first = tokenOf(await h.client.check(token));
    h.emulator.reauthenticate(session.id);
    const relogged = tokenOf(await h.client.check(token));
    assert.notEqual(relogged, first);

    h.emulator.setTraits(identity, { email: 'new@example.com' });
    const response = await h.client.check(token);
    assert.equal(upstreamHeaders(response)['x-user-email'], 'new@example.com');
    assert.equal(verifyJwt(tokenOf(response), jwks).payload.email, 'new@example.com');
  });
});

describe('traits that are missing or not header-safe', () => {
  const leftOut = (target: string, name: string, reason: string) =>
    metric(
      new RegExp(
        `^kratos_ext_authz_identity_values_left_out_total\\{target="${target}",name="${name}",reason="${reason}"\\} (\\d+)$`,
        'm',
      ),
    );

  test('are never passed: their headers are removed like forged ones, their claims left out, and each is counted', async () => {
    const long = `${'a'.repeat(1020)}@example.com`;
    const identity = h.emulator.addIdentity({
      traits: { email: long, name: { first: 'Bob\r\nx-kratos-aal: aal2' }, age: { years: 3 } },
    });
    const session = h.newSession(identity, { methods: AAL1 });
    const before = await Promise.all([
      leftOut('header', 'x-user-email', 'unsafe'),
      leftOut('header', 'x-user-name', 'unsafe'),
      leftOut('header', 'x-user-age', 'not_text'),
      leftOut('claim', 'email', 'unsafe'),
    ]);
    const response = await h.client.check({
      headers: { cookie: cookieOf(session), 'x-user-email': 'forged@example.com', 'x-user-name': 'forged' },
    });
    assert.equal(response.status?.code, 0, 'still an allow: the session is good');
    const headers = upstreamHeaders(response);
    assert.deepEqual(Object.keys(headers).sort(), [...X_KRATOS, 'x-kratos-jwt'].sort());
    assert.equal(headers['x-kratos-aal'], 'aal1');
    assert.deepEqual(
      asSet(response.ok_response?.headers_to_remove),
      asSet(['x-user-email', 'x-user-name', 'x-user-age', ...lookalikes([...X_KRATOS, ...CONFIGURED])]),
    );
    const { payload } = verifyJwt(tokenOf(response), jwks);
    assert.equal('email' in payload, false, 'an over-long email is no claim');
    assert.equal('given_name' in payload, false, 'a value with CR LF is no claim');
    const afterCounts = await Promise.all([
      leftOut('header', 'x-user-email', 'unsafe'),
      leftOut('header', 'x-user-name', 'unsafe'),
      leftOut('header', 'x-user-age', 'not_text'),
      leftOut('claim', 'email', 'unsafe'),
    ]);
    assert.deepEqual(
      afterCounts,
      before.map((count) => count + 1),
    );
  });

  test('a non-ASCII name stays out of the header but is a claim (JSON carries UTF-8); a missing trait is simply absent', async () => {
    const identity = h.emulator.addIdentity({ traits: { email: 'lukasz@example.com', name: { first: 'Łukasz' } } });
    const response = await h.client.check({ headers: { cookie: cookieOf(h.newSession(identity, { methods: AAL1 })) } });
    const headers = upstreamHeaders(response);
    assert.equal(headers['x-user-email'], 'lukasz@example.com');
    assert.equal(headers['x-user-name'], undefined);
    assert.equal(headers['x-user-age'], undefined, 'no age trait');
    assert.deepEqual(
      asSet(response.ok_response?.headers_to_remove),
      asSet(['x-user-name', 'x-user-age', ...lookalikes([...X_KRATOS, ...CONFIGURED])]),
    );
    assert.equal(verifyJwt(tokenOf(response), jwks).payload.given_name, 'Łukasz');
  });
});

describe('an allow without a session', () => {
  test('an anonymous route removes every configured header, its "_" spelling too, and signs nothing', async () => {
    const response = await h.client.check({
      path: '/public/page',
      headers: { 'x-user-email': 'forged@example.com', 'x-kratos-jwt': 'forged' },
    });
    assert.equal(response.status?.code, 0);
    assert.deepEqual(upstreamHeaders(response), {});
    assert.deepEqual(
      asSet(response.ok_response?.headers_to_remove),
      asSet([...X_KRATOS, ...CONFIGURED, ...lookalikes([...X_KRATOS, ...CONFIGURED])]),
    );
  });
});

describe('the HTTP front doors', () => {
  for (const door of HTTP_DOORS) {
    test(`${door}: a 200 carrying the trait headers and the JWT for the proxy to copy upstream`, async () => {
      assert.ok(h.http);
      const identity = h.emulator.addIdentity({ traits: { email: `${door}@example.com`, name: { first: 'Door' } } });
      const session = h.newSession(identity, { methods: AAL1 });
      const answer = await h.http.check(door, { headers: { cookie: cookieOf(session) } });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['x-user-email'], `${door}@example.com`);
      assert.equal(answer.headers['x-user-name'], 'Door');
      const { payload } = verifyJwt(answer.headers['x-kratos-jwt'] ?? '', jwks);
      assert.equal(payload.sid, session.id);
      if (door === 'envoy_http')
        assert.deepEqual(
          asSet(answer.headers['x-envoy-auth-headers-to-remove']?.split(',')),
          asSet(['x-user-age', ...lookalikes([...X_KRATOS, ...CONFIGURED])]),
        );

      const anonymous = await h.http.check(door, {
        path: '/public/x',
        headers: { 'x-user-email': 'forged@example.com' },
      });
      assert.equal(anonymous.status, 200);
      assert.equal(anonymous.headers['x-user-email'], undefined);
      assert.equal(anonymous.headers['x-kratos-jwt'], undefined);
      if (door === 'envoy_http')
        assert.deepEqual(
          asSet(anonymous.headers['x-envoy-auth-headers-to-remove']?.split(',')),
          asSet([...X_KRATOS, ...CONFIGURED, ...lookalikes([...X_KRATOS, ...CONFIGURED])]),
        );
    });
  }
});

describe('/.well-known/jwks.json', () => {
  test('publishes the public key only, with its RFC 7638 thumbprint as kid, alg and use, cacheable for a short while', async () => {
    const served = await fetchJwks(h.service.httpPort);
    assert.equal(served.status, 200);
    assert.equal(served.contentType, 'application/jwk-set+json');
    assert.equal(served.cacheControl, 'public, max-age=300');
    assert.equal(served.keys.length, 1);
    const [key] = served.keys;
    assert.ok(key);
    assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(key.use, 'sig');
    // jose (ESM only) is the second opinion on the thumbprint the service computes itself.
    const { calculateJwkThumbprint } = await import('jose');
    assert.equal(key.kid, await calculateJwkThumbprint({ kty: key.kty, crv: key.crv, x: key.x, y: key.y }));
  });
});

describe('each key type', () => {
  for (const type of KEY_TYPES) {
    test(`${type}: published, signs, and its token verifies with node:crypto`, async () => {
      const own = await startHarness({
        config: {
          upstream_jwt: jwtConfig([writeSigningKey(type)], {
            header: 'authorization',
            audience: ['orders', 'billing'],
          }),
        },
      });
      try {
        const served = await fetchJwks(own.service.httpPort);
        assert.equal(served.keys[0]?.alg, type);
        assert.equal('d' in (served.keys[0] ?? {}), false, 'no private member');
        const identity = own.emulator.addIdentity();
        const session = own.newSession(identity, { methods: AAL1 });
        const response = await own.client.check({
          headers: { 'x-session-token': session.token, authorization: 'Bearer forged' },
        });
        const authorization = upstreamHeaders(response).authorization ?? '';
        assert.match(
          authorization,
          /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/,
          'upstream_jwt.header: authorization carries a Bearer',
        );
        const { header, payload } = verifyJwt(authorization.slice('Bearer '.length), served.keys);
        assert.equal(header.alg, type);
        assert.deepEqual(payload.aud, ['orders', 'billing']);
        assert.equal(payload.sub, identity);
        // The token is stripped (the default); the client's Authorization is replaced by the JWT, not also removed.
        assert.deepEqual(
          asSet(response.ok_response?.headers_to_remove),
          asSet([...lookalikes(X_KRATOS), 'x-session-token']),
          '"authorization" is its own lookalike: it is set, never also removed',
        );
      } finally {
        await own.close();
      }
    });
  }

  test('without upstream_jwt the JWK Set is 404 and no JWT header is set', async () => {
    const own = await startHarness();
    try {
      assert.equal((await fetchJwks(own.service.httpPort)).status, 404);
      const identity = own.emulator.addIdentity();
      const response = await own.client.check({
        headers: { 'x-session-token': own.newSession(identity, { methods: AAL1 }).token },
      });
      assert.deepEqual(Object.keys(upstreamHeaders(response)), X_KRATOS);
    } finally {
      await own.close();
    }
  });
});

describe('rotation (reconfigure, as SIGHUP does)', () => {
  test('add the new key second: both published, the old one signs; make it first: it signs; cached tokens are not handed out across', async () => {
    const oldKey = writeSigningKey('ES256');
    const newKey = writeSigningKey('EdDSA');
    const own = await startHarness({ config: { upstream_jwt: jwtConfig([oldKey]) } });
    try {
      const identity = own.emulator.addIdentity();
      const token = { headers: { 'x-session-token': own.newSession(identity, { methods: AAL1 }).token } };
      const reconfigure = (keys: string[]) =>
        own.service.reconfigure(parseConfig({ ...configDocument(own), upstream_jwt: jwtConfig(keys) }, {}));
      const first = tokenOf(await own.client.check(token));
      const [oldKid] = (await fetchJwks(own.service.httpPort)).keys.map((key) => key.kid);

      reconfigure([oldKey, newKey]);
      const both = (await fetchJwks(own.service.httpPort)).keys;
      assert.equal(both.length, 2);
      assert.equal(both[0]?.kid, oldKid);
      const during = verifyJwt(tokenOf(await own.client.check(token)), both);
      assert.equal(during.header.kid, oldKid, 'the first key still signs');

      reconfigure([newKey, oldKey]);
      const swapped = (await fetchJwks(own.service.httpPort)).keys;
      const rotated = tokenOf(await own.client.check(token));
      assert.notEqual(rotated, first);
      const after = verifyJwt(rotated, swapped);
      assert.equal(after.header.kid, both[1]?.kid, 'the new key signs once it is first');
      assert.equal(after.header.alg, 'EdDSA');
      verifyJwt(first, swapped);
    } finally {
      await own.close();
    }
  });
});

/** The harness's own config document, as a reload would read it back. */
function configDocument(own: Harness): Record<string, unknown> {
  return {
    server: { grpc_address: '127.0.0.1:0', http_address: '127.0.0.1:0', http_authz_address: '127.0.0.1:0' },
    kratos: { public_url: own.emulator.publicUrl, admin_url: own.emulator.adminUrl },
    cache: { ttl: '0s', negative_ttl: '0s', identity_ttl: '0s' },
  };
}
