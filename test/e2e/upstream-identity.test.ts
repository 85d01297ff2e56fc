// identity_headers and upstream_jwt through the real Envoy and the real Kratos, each pinned Envoy
// version: the echo upstream sees the trait header and the JWT (a client's forged copies
// overwritten, removed on anonymous routes), the JWT verifies with node:crypto against the JWKS
// on the ops port, and the real Envoy is a second, independent verifier: its jwt_authn filter
// after ext_authz fetches that JWKS (remote_jwks) and rejects the request unless it verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { httpConnectionManager, type JsonObject } from '../../stack/configs';
import { freePorts } from '../../stack/ports';
import { fetchJwksFrom, verifyJwt, writeSigningKey, type KeyType } from '../support/jwt';
import { API, CookieJar, eventually, field, NAVIGATION, send } from './http';
import { browserPasswordLogin, browserTotpStepUp, enrolTotp, registerWithPassword } from './kratos';
import { stackFactories } from './plans';
import { withStack } from './run-stack';
import type { StackPlan, Variant } from './stack';
import { echoedHeaders } from './story';
import { freshTotp } from './totp';

const ISSUER = 'https://kratos-ext-authz.e2e';
const AUDIENCE = 'echo';

/** jwt_authn after ext_authz, on /app only (the anonymous routes carry no JWT), keys from the ops port. */
function envoyVerifiesTheJwt(config: JsonObject, opsPort: number, jwtHeader: JwtHeader): void {
  const filters = httpConnectionManager(config).http_filters as JsonObject[];
  const router = filters.findIndex((filter) => filter.name === 'envoy.filters.http.router');
  filters.splice(router, 0, {
    name: 'envoy.filters.http.jwt_authn',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
      providers: {
        kratos_ext_authz: {
          issuer: ISSUER,
          audiences: [AUDIENCE],
          from_headers: [
            jwtHeader === 'authorization' ? { name: 'authorization', value_prefix: 'Bearer ' } : { name: jwtHeader },
          ],
          forward: true,
          remote_jwks: {
            http_uri: {
              uri: `http://127.0.0.1:${opsPort}/.well-known/jwks.json`,
              cluster: 'kratos_ext_authz_ops',
              timeout: '1s',
            },
            cache_duration: '300s',
          },
          // Set by Envoy from the claims it verified: the upstream sees them only if it did.
          claim_to_headers: [
            { header_name: 'x-verified-sub', claim_name: 'sub' },
            { header_name: 'x-verified-aal', claim_name: 'aal' },
          ],
        },
      },
      rules: [{ match: { prefix: '/app' }, requires: { provider_name: 'kratos_ext_authz' } }],
    },
  });
  const resources = config.static_resources as JsonObject;
  (resources.clusters as JsonObject[]).push({
    name: 'kratos_ext_authz_ops',
    type: 'STATIC',
    connect_timeout: '0.25s',
    load_assignment: {
      cluster_name: 'kratos_ext_authz_ops',
      endpoints: [
        {
          lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: opsPort } } } }],
        },
      ],
    },
  });
}

/** The ops port is fixed up front: Envoy's config names it, and is written before the service starts. */
async function upstreamIdentity({ keyType, jwtHeader }: Setup): Promise<Variant> {
  const [opsPort = 0] = await freePorts(1);
  return {
    name: `identity_headers + upstream_jwt (${keyType} in ${jwtHeader}), Envoy jwt_authn verifying`,
    serviceOverrides: {
      identity_headers: { 'x-user-email': 'traits.email' },
      upstream_jwt: {
        header: jwtHeader,
        issuer: ISSUER,
        audience: AUDIENCE,
        ttl: '1m',
        keys: [writeSigningKey(keyType)],
        claims: { email: 'traits.email' },
      },
    },
    adjustEnvoy: (config) => envoyVerifiesTheJwt(config, opsPort, jwtHeader),
    ports: { extAuthzHttp: opsPort },
  };
}

type JwtHeader = 'x-kratos-jwt' | 'authorization';
interface Setup {
  keyType: KeyType;
  jwtHeader: JwtHeader;
}

// One per stack, in order (process stacks per pinned Envoy, then the container stack): both
// header forms and the key types reach a real verifier.
const SETUPS: readonly Setup[] = [
  { keyType: 'ES256', jwtHeader: 'x-kratos-jwt' },
  { keyType: 'EdDSA', jwtHeader: 'authorization' },
  { keyType: 'RS256', jwtHeader: 'x-kratos-jwt' },
];

/** The JWT as the upstream received it in `header`. */
function jwtIn(headers: Record<string, unknown>, header: JwtHeader): string {
  const value = String(headers[header]);
  if (header === 'x-kratos-jwt') return value;
  assert.match(value, /^Bearer /);
  return value.slice('Bearer '.length);
}

test('upstream identity: trait header and JWT through the real Envoy and Kratos, verified by Envoy jwt_authn too', async (t) => {
  const runs: { plan: StackPlan; setup: Setup }[] = [];
  for (const factory of await stackFactories(t)) {
    for (const envoy of factory.envoyVersions) {
      const setup = SETUPS[runs.length % SETUPS.length] ?? { keyType: 'ES256', jwtHeader: 'x-kratos-jwt' };
      runs.push({ plan: factory.plan(envoy, await upstreamIdentity(setup)), setup });
    }
  }
  for (const { plan, setup } of runs) {
    await t.test(plan.description, () =>
      withStack(plan, async (stack) => {
        const email = `e2e-${randomUUID()}@example.com`;
        const password = `E2e-${randomUUID()}`;
        const user = await registerWithPassword(stack.baseUrl, email, password);
        const forged = {
          'x-user-email': 'mallory@example.com',
          [setup.jwtHeader]:
            setup.jwtHeader === 'authorization' ? 'Bearer forged.forged.forged' : 'forged.forged.forged',
          'x-verified-aal': 'aal2',
        };
        const seen = echoedHeaders(
          await send(`${stack.baseUrl}/app/upstream-identity`, {
            headers: { ...API, 'x-session-token': user.token, ...forged },
          }),
        );
        assert.equal(seen['x-user-email'], email, 'the trait header, the forged one overwritten');
        assert.equal(seen['x-kratos-identity-id'], user.identityId);
        // Envoy's jwt_authn verified the token against the JWKS it fetched from the ops port.
        assert.equal(seen['x-verified-sub'], user.identityId);
        assert.equal(seen['x-verified-aal'], 'aal1');
        // policy.strip_credentials (on by default): the token itself never reaches the upstream.
        assert.equal(seen['x-session-token'], undefined, 'X-Session-Token stripped');
        if (setup.jwtHeader === 'x-kratos-jwt') {
          const bearer = echoedHeaders(
            await send(`${stack.baseUrl}/app/bearer`, { headers: { ...API, authorization: `Bearer ${user.token}` } }),
          );
          assert.equal(bearer['x-kratos-identity-id'], user.identityId);
          assert.equal(bearer.authorization, undefined, 'the Kratos Bearer stripped');
        }

        const token = jwtIn(seen, setup.jwtHeader);
        const jwks = await fetchJwksFrom(stack.extAuthzOpsUrl);
        assert.equal(jwks.cacheControl, 'public, max-age=300');
        const { header, payload } = verifyJwt(token, jwks.keys);
        assert.equal(header.kid, jwks.keys[0]?.kid);
        assert.equal(payload.sub, user.identityId);
        assert.equal(payload.sid, user.sessionId);
        assert.equal(payload.email, email);
        assert.deepEqual(payload.amr, ['password']);
        assert.equal(payload.exp - payload.iat, 60, 'upstream_jwt.ttl');
        const whoami = await send(`${stack.kratosPublicUrl}/sessions/whoami`, {
          headers: { ...API, 'x-session-token': user.token },
        });
        assert.ok(
          payload.exp * 1000 <= Date.parse(String(field(whoami.json, 'expires_at'))),
          "exp ≤ the real session's expires_at",
        );

        // A browser session stepped up with TOTP: the same session id, a new token saying aal2.
        let lastCounter: number | undefined;
        const nextCode = async () => {
          const { code, counter } = await freshTotp(secret, lastCounter);
          lastCounter = counter;
          return code;
        };
        let secret = '';
        await enrolTotp(stack.baseUrl, user.token, async (offered) => {
          secret = offered;
          return nextCode();
        });
        const jar = new CookieJar();
        assert.equal(await browserPasswordLogin(stack.baseUrl, jar, email, password), 'aal1');
        assert.equal(await browserTotpStepUp(stack.baseUrl, jar, nextCode), 'aal2');
        const stepped = echoedHeaders(
          await eventually(
            () => send(`${stack.baseUrl}/app/stepped-up`, { headers: NAVIGATION, jar }),
            (sent) => sent.status === 200,
          ),
        );
        assert.equal(stepped['x-verified-aal'], 'aal2', 'Envoy verified the stepped-up token');
        const steppedJwt = verifyJwt(jwtIn(stepped, setup.jwtHeader), jwks.keys).payload;
        assert.equal(steppedJwt.sid, stepped['x-kratos-session-id']);
        assert.equal(steppedJwt.aal, 'aal2');
        assert.deepEqual(steppedJwt.amr, ['password', 'totp']);

        // The browser's session cookie never reaches the upstream; its other cookies (Kratos's
        // CSRF cookie, the app's own) do, byte for byte and in order, through the real Envoy.
        const jarCookies = jar.header();
        assert.match(jarCookies, /ory_kratos_session=/);
        const withOwn = echoedHeaders(
          await send(`${stack.baseUrl}/app/cookies`, {
            headers: { ...NAVIGATION, cookie: `theme=dark; ${jarCookies};  lang="en"` },
          }),
        );
        assert.equal(withOwn['x-kratos-session-id'], stepped['x-kratos-session-id']);
        const others = jarCookies.split('; ').filter((pair) => !pair.startsWith('ory_kratos_session='));
        assert.equal(
          withOwn.cookie,
          ['theme=dark', ...others].join('; ') + ';  lang="en"',
          'the session cookie stripped, the others as sent',
        );

        // An anonymous route: forged trait header and JWT removed by ext_authz's headers_to_remove.
        const anonymous = echoedHeaders(await send(`${stack.baseUrl}/health`, { headers: { ...API, ...forged } }));
        assert.equal(anonymous['x-user-email'], undefined);
        assert.equal(
          anonymous[setup.jwtHeader],
          undefined,
          "with authorization as the JWT header, the client's own is removed too",
        );
        return true;
      }),
    );
  }
});
