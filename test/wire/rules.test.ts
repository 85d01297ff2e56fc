/** Policy rules, named policies via context_extensions, path-normalisation attacks and CORS. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deniedJson, httpStatusOf, metadataOf, upstreamHeaders } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import type { CreatedSession } from '../support/kratos-emulator';
import { allSpellings } from '../support/spellings';
import { AAL1, XHR } from '../support/fixtures';

// The identity headers, in every "-"/"_" spelling, removed from anonymous requests.
const NO_IDENTITY_HEADERS = ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal']
  .flatMap(allSpellings)
  .sort();

let h: Harness;
let plain: CreatedSession;
let twoFactorAal1: CreatedSession;
before(async () => {
  h = await startHarness({
    config: {
      policy: {
        rules: [
          { name: 'public', paths: ['/', '/public/*'], anonymous: true },
          { name: 'admin', hosts: ['admin.example.com'], cookie: 'aal2', token: 'aal2' },
          { name: 'tenants', hosts: ['*.tenants.example.com'], methods: ['DELETE'], deny: true },
          { name: 'writes-need-2fa', paths: ['/api/*'], methods: ['POST', 'put'], token: 'highest_available' },
          { paths: ['/private/*'], deny: true },
          { name: 'token-relaxed', paths: ['/relaxed/*'], cookie: 'aal1' },
        ],
      },
    },
  });
  plain = h.newSession(h.emulator.addIdentity());
  twoFactorAal1 = h.newSession(
    h.emulator.addIdentity({ credentials: { totp: { totp_url: 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP' } } }),
    { methods: AAL1 },
  );
});
after(() => h.close());

describe('rule matching', () => {
  test('an anonymous path passes without a credential and strips identity headers', async () => {
    const response = await h.client.check({
      path: '/public/logo.png?v=2',
      headers: { 'x-kratos-identity-id': 'forged' },
    });
    assert.equal(httpStatusOf(response), 200);
    assert.deepEqual([...(response.ok_response?.headers_to_remove ?? [])].sort(), NO_IDENTITY_HEADERS);
    assert.deepEqual(metadataOf(response), {
      credential: 'none',
      decision: 'allow',
      reason: 'anonymous',
      policy: 'public',
    });
  });

  test('an anonymous path with a valid credential still gets the identity headers', async () => {
    const response = await h.client.check({ path: '/', headers: { 'x-session-token': plain.token } });
    assert.equal(upstreamHeaders(response)['x-kratos-session-id'], plain.id);
  });

  test('an anonymous path gets no identity headers for a session below the default policy', async () => {
    // An aal1 cookie of an identity with TOTP (password stolen, second factor not) must not
    // personalise an anonymous page.
    const response = await h.client.check({
      path: '/',
      headers: { cookie: h.emulator.cookieHeaderFor(twoFactorAal1) },
    });
    assert.equal(httpStatusOf(response), 200);
    // The session cookie is the only cookie: stripped by default, so no Cookie at all upstream.
    assert.deepEqual(upstreamHeaders(response), {});
    assert.deepEqual(
      [...(response.ok_response?.headers_to_remove ?? [])].sort(),
      [...NO_IDENTITY_HEADERS, 'cookie'].sort(),
    );
    // The same session as a token meets the token default (aal1) and does get them.
    assert.equal(
      upstreamHeaders(await h.client.check({ path: '/', headers: { 'x-session-token': twoFactorAal1.token } }))[
        'x-kratos-session-id'
      ],
      twoFactorAal1.id,
    );
  });

  test('an anonymous path with an invalid credential passes as anonymous', async () => {
    const response = await h.client.check({
      path: '/public/a',
      headers: { 'x-session-token': h.remember('ory_st_nopenopenopenopenope00000') },
    });
    assert.equal(httpStatusOf(response), 200);
    // A credential on an anonymous route is stripped too, valid or not.
    assert.deepEqual(
      [...(response.ok_response?.headers_to_remove ?? [])].sort(),
      [...NO_IDENTITY_HEADERS, 'x-session-token'].sort(),
    );
  });

  test('an anonymous path passes as anonymous while Kratos is failing', async () => {
    h.emulator.fail('whoami', { mode: 'status500', count: 1 });
    const response = await h.client.check({ path: '/public/a', headers: { 'x-session-token': plain.token } });
    assert.equal(httpStatusOf(response), 200);
    assert.equal(upstreamHeaders(response)['x-kratos-session-id'], undefined);
  });

  test('exact host with port in :authority, and host case, match', async () => {
    const response = await h.client.check({
      host: 'ADMIN.example.com:443',
      path: '/dashboard',
      headers: { 'x-session-token': plain.token, ...XHR },
    });
    assert.equal(httpStatusOf(response), 403);
    assert.equal(metadataOf(response).policy, 'admin');
  });

  test('wildcard host matches subdomains only, and only for the listed methods', async () => {
    assert.equal(
      metadataOf(
        await h.client.check({
          method: 'DELETE',
          host: 'a.tenants.example.com',
          path: '/t',
          headers: { 'x-session-token': plain.token },
        }),
      ).reason,
      'rule_deny',
    );
    assert.equal(
      httpStatusOf(
        await h.client.check({
          method: 'GET',
          host: 'a.tenants.example.com',
          path: '/t',
          headers: { 'x-session-token': plain.token },
        }),
      ),
      200,
    );
    assert.equal(
      httpStatusOf(
        await h.client.check({
          method: 'DELETE',
          host: 'tenants.example.com',
          path: '/t',
          headers: { 'x-session-token': plain.token },
        }),
      ),
      200,
    );
  });

  test('an unnamed rule is reported as rules[i]', async () => {
    assert.equal(metadataOf(await h.client.check({ path: '/private/x' })).policy, 'rules[4]');
  });

  test('token requirement set by a rule: highest_available for writes, aal1 inherited for reads', async () => {
    const write = await h.client.check({
      method: 'POST',
      path: '/api/orders',
      headers: { 'x-session-token': twoFactorAal1.token },
    });
    assert.equal(httpStatusOf(write), 403);
    assert.equal((deniedJson(write).error as Record<string, unknown>).id, 'session_aal2_required');
    const read = await h.client.check({
      method: 'GET',
      path: '/api/orders',
      headers: { 'x-session-token': twoFactorAal1.token },
    });
    assert.equal(httpStatusOf(read), 200);
  });

  test('cookie requirement relaxed by a rule while token keeps the default', async () => {
    const cookie = h.emulator.cookieHeaderFor(twoFactorAal1);
    assert.equal(httpStatusOf(await h.client.check({ path: '/relaxed/x', headers: { cookie, ...XHR } })), 200);
    assert.equal(httpStatusOf(await h.client.check({ path: '/other', headers: { cookie, ...XHR } })), 403);
  });
});

describe('context_extensions', () => {
  test('a named policy wins over matching', async () => {
    const response = await h.client.check({
      path: '/public/x',
      contextExtensions: { policy: 'admin' },
      headers: { 'x-session-token': plain.token, ...XHR },
    });
    assert.equal(httpStatusOf(response), 403);
    assert.equal(metadataOf(response).policy, 'admin');
  });

  test('other context_extensions keys are ignored', async () => {
    const response = await h.client.check({ path: '/public/x', contextExtensions: { team: 'payments' } });
    assert.equal(metadataOf(response).policy, 'public');
  });

  test('an unknown policy name fails closed with 500', async () => {
    const response = await h.client.check({
      contextExtensions: { policy: 'nope' },
      headers: { 'x-session-token': plain.token },
    });
    assert.equal(httpStatusOf(response), 500);
    assert.equal(response.status?.code, 13);
    assert.equal(metadataOf(response).reason, 'internal_error');
    assert.ok(h.logs.some((line) => line.level === 50 && String(line.detail).includes('unknown policy "nope"')));
  });
});

describe('path normalisation: tricks to reach a protected path through an anonymous prefix', () => {
  const attacks = [
    '/public/../admin',
    '/public/%2e%2e/admin',
    '/public/%2E%2e/admin',
    '/public/..%2fadmin',
    '/public/..%2Fprivate/x',
    '/public\\..\\admin',
    '/public/./../admin',
    '/public/../../../admin',
    '/public/%2e%2e%2fadmin?x=/public/',
    '/./public/../admin',
  ];
  for (const path of attacks) {
    test(path, async () => {
      const response = await h.client.check({ path, headers: XHR });
      assert.notEqual(httpStatusOf(response), 200);
      assert.notEqual(metadataOf(response).policy, 'public');
    });
  }

  test('paths that read differently decoded and as sent, under different rules, are refused with 400', async () => {
    for (const path of [
      '/private/..;/public/x',
      '/private/x%2F..%2F..%2Fpublic/y',
      '/public/..;/private/x',
      '/private;x/y',
    ]) {
      const response = await h.client.check({ path, headers: XHR });
      assert.equal(httpStatusOf(response), 400, path);
      assert.equal(metadataOf(response).reason, 'bad_request', path);
    }
  });

  test('a lower-case method is refused with 400 rather than matched case-insensitively', async () => {
    const response = await h.client.check({
      method: 'delete',
      host: 'a.tenants.example.com',
      path: '/t',
      headers: { 'x-session-token': plain.token },
    });
    assert.equal(httpStatusOf(response), 400);
  });

  test('double encoding is decoded once only: %252e%252e stays a literal segment', async () => {
    const response = await h.client.check({ path: '/public/%252e%252e/admin', headers: XHR });
    assert.equal(metadataOf(response).policy, 'public');
  });

  test('repeated slashes: merged, the path is under the deny rule; as sent, under none: refused', async () => {
    assert.equal(metadataOf(await h.client.check({ path: '//private//x' })).reason, 'bad_request');
    assert.equal(metadataOf(await h.client.check({ path: '/private//x' })).reason, 'rule_deny');
  });
});

describe('CORS preflight', () => {
  const preflight = {
    method: 'OPTIONS',
    path: '/api/orders',
    headers: { origin: 'https://spa.example.com', 'access-control-request-method': 'POST', 'x-kratos-aal': 'aal2' },
  };

  test("by default a preflight is not let through unauthenticated: Envoy's CORS filter answers it", async () => {
    assert.equal(httpStatusOf(await h.client.check(preflight)), 401);
  });

  describe('policy.cors_preflight: true', () => {
    let open: Harness;
    before(async () => {
      open = await startHarness({
        config: { policy: { cors_preflight: true, rules: [{ paths: ['/private/*'], deny: true }] } },
      });
    });
    after(() => open.close());

    test('passes without a credential, identity headers removed, Kratos not called', async () => {
      open.emulator.clearRequests();
      const response = await open.client.check(preflight);
      assert.equal(httpStatusOf(response), 200);
      assert.equal(metadataOf(response).reason, 'cors_preflight');
      assert.deepEqual([...(response.ok_response?.headers_to_remove ?? [])].sort(), NO_IDENTITY_HEADERS);
      assert.equal(open.emulator.count('whoami'), 0);
    });

    test('a plain OPTIONS without the preflight headers needs a credential', async () => {
      assert.equal(httpStatusOf(await open.client.check({ method: 'OPTIONS', path: '/api/orders' })), 401);
    });

    test('a deny rule still denies a preflight', async () => {
      assert.equal(httpStatusOf(await open.client.check({ ...preflight, path: '/private/x' })), 403);
    });
  });
});
