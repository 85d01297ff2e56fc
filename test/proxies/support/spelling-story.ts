/**
 * Findings 5 and 8 of issue 18, through a real proxy with its shipped config: no "-"/"_"/"."
 * spelling (in any case) of an identity header that a client sends reaches the app unless the
 * authorizer set it, read the way CGI, WSGI, Rack and PHP read header names (see
 * echo-upstream.ts); and a method override reaches the authorizer, so it cannot dodge a rule.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from '../../support/harness';
import { AuthzHttpClient } from '../../support/http-client';
import { fetchJwks, verifyJwt, writeSigningKey } from '../../support/jwt';
import { allSpellings } from '../../support/spellings';
import { startEchoUpstream, type EchoUpstream } from './echo-upstream';
import { freePort, skipUnlessInstalled, type ProxyProcess } from './proxy-process';
import type { ProxyUnderTest } from './story';

/** What a proxy needs to stand in front of the app; `grpc` for the ones asking the gRPC port. */
export interface SpellingPorts {
  authz: number;
  grpc: number;
  app: number;
  proxy: number;
}

export interface SpellingProxy extends Pick<ProxyUnderTest, 'name' | 'unavailable'> {
  start(ports: SpellingPorts, dir: string): Promise<ProxyProcess>;
  /** How the proxy treats names with "_", for the test's name. */
  underscores: string;
  /** True when it refuses such requests (400: Envoy's headers_with_underscores_action REJECT_REQUEST). */
  refusesUnderscores: boolean;
}

const HOST = 'app.example.com';
// The names every shipped proxy config copies: the identity headers, examples/config.yaml's
// commented identity_headers example and upstream_jwt.header.
const IDENTITY_NAMES = ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal', 'x-user-email', 'x-kratos-jwt'];
const CGI_NAMES = IDENTITY_NAMES.map((name) => `HTTP_${name.toUpperCase().replaceAll('-', '_')}`);
const FORGED = 'forged';
/** Every spelling of every name, and three of them again upper-cased (names are case-insensitive). */
const FORGERIES: Array<[string, string]> = [
  ...IDENTITY_NAMES.flatMap(allSpellings),
  'X-KRATOS_IDENTITY-ID',
  'X_User-EMAIL',
  'X.Kratos.AAL',
].map((name) => [name, FORGED]);

export function spellingStory(proxy: SpellingProxy): void {
  const missing = proxy.unavailable();
  if (missing !== undefined) {
    test(`${proxy.name}: identity header spellings`, { skip: skipUnlessInstalled(missing) }, () =>
      assert.fail(missing),
    );
    return;
  }

  describe(`${proxy.name}: what CGI-style apps and method-override middleware read (names with "_": ${proxy.underscores})`, () => {
    let harness: Harness;
    let app: EchoUpstream;
    let running: ProxyProcess;
    let client: AuthzHttpClient;
    let dir: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `kratos-ext-authz-${proxy.name}-spellings-`));
      app = await startEchoUpstream();
      harness = await startHarness({
        config: {
          policy: {
            rules: [
              { name: 'public', paths: ['/public/*'], anonymous: true },
              { name: 'records-kept', paths: ['/records/*'], methods: ['DELETE'], deny: true },
            ],
          },
          http_authz: { trusted_proxies: ['127.0.0.0/8'] },
          identity_headers: { 'x-user-email': 'traits.email' },
          upstream_jwt: { issuer: 'https://authz.test', audience: 'app', keys: [writeSigningKey('ES256')] },
        },
      });
      assert.ok(harness.service.httpAuthzPort);
      const port = await freePort();
      running = await proxy.start(
        { authz: harness.service.httpAuthzPort, grpc: harness.service.grpcPort, app: app.port, proxy: port },
        dir,
      );
      client = new AuthzHttpClient(port);
    });

    after(async () => {
      client.close();
      await running.stop();
      await harness.close();
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /**
     * The identity headers as the app reads them, after the request with every forgery; or
     * undefined when the proxy refused it (asserted to be what the proxy does).
     */
    async function identitySeen(
      path: string,
      headers: Array<[string, string]>,
    ): Promise<Record<string, string> | undefined> {
      const before = app.count();
      const answer = await client.send({
        method: 'GET',
        path,
        headers: [['host', HOST], ['accept', 'application/json'], ...headers, ...FORGERIES],
      });
      if (proxy.refusesUnderscores) {
        assert.deepEqual({ status: answer.status, reached: app.count() - before }, { status: 400, reached: 0 });
        return undefined;
      }
      assert.deepEqual({ status: answer.status, reached: app.count() - before }, { status: 200, reached: 1 });
      const cgi = app.lastAsCgi() ?? {};
      return Object.fromEntries(CGI_NAMES.filter((name) => name in cgi).map((name) => [name, cgi[name] as string]));
    }

    test('identity headers on an anonymous route: none of the forged spellings', async () => {
      const seen = await identitySeen('/public/page', []);
      if (seen) assert.deepEqual(seen, {});
    });

    test('identity headers with a session: exactly the values the authorizer set, no forged one beside them', async () => {
      const session = harness.newSession(harness.emulator.addIdentity());
      const seen = await identitySeen('/page', [['x-session-token', session.token]]);
      if (!seen) return;
      assert.equal(seen.HTTP_X_KRATOS_IDENTITY_ID, session.identityId);
      assert.equal(seen.HTTP_X_KRATOS_SESSION_ID, session.id);
      assert.equal(seen.HTTP_X_KRATOS_AAL, 'aal1');
      assert.match(seen.HTTP_X_USER_EMAIL ?? '', /^user-[0-9a-f]{8}@example\.com$/);
      const { payload } = verifyJwt(seen.HTTP_X_KRATOS_JWT ?? '', (await fetchJwks(harness.service.httpPort)).keys);
      assert.equal(payload.sid, session.id);
    });

    test('X-HTTP-Method-Override: DELETE on a POST does not reach the app past a DELETE deny rule; PATCH does', async () => {
      const session = harness.newSession(harness.emulator.addIdentity());
      const send = (override: string) =>
        client.send({
          method: 'POST',
          path: '/records/1',
          headers: [
            ['host', HOST],
            ['accept', 'application/json'],
            ['x-session-token', session.token],
            ['x-http-method-override', override],
          ],
        });
      const before = app.count();
      const dodged = await send('DELETE');
      assert.notEqual(dodged.status, 200);
      assert.equal(app.count(), before, 'the app was not reached');
      assert.equal((await send('PATCH')).status, 200);
      assert.equal(app.count(), before + 1, 'an override under the same rule reaches the app');
    });
  });
}
