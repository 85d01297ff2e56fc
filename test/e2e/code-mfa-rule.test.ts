// Code MFA through the real Kratos (the one STACK_KRATOS names, else the newest: .ci/run runs
// this once per pinned Kratos): with selfservice.methods.code.mfa_enabled on and off, for an
// identity whose schema makes its email a code address and one whose schema has no code
// identifier, the service's answer to an aal1 browser cookie must match Kratos's own whoami at
// required_aal: highest_available. That oracle is a second `kratos serve` on the same SQLite
// database and configuration, differing only in session.whoami.required_aal (Stack.startTwinKratos),
// on every stack E2E_STACK selects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject } from '../../stack/configs';
import { EXT_AUTHZ } from '../../stack/local-stack';
import { projectRoot } from '../../stack/project-root';
import { API, CookieJar, send } from './http';
import { browserPasswordLogin } from './kratos';
import { stackFactories } from './plans';
import { withStack } from './run-stack';
import type { Stack } from './stack';
import { SESSION_COOKIE } from './story';

const DEFAULT_SCHEMA = join(projectRoot, 'envoy', 'kratos', 'identity.schema.json');

/** The demo schema without the email's code identifier: such an identity has no code address. */
function schemaWithoutCodeAddress(): string {
  const schema = JSON.parse(readFileSync(DEFAULT_SCHEMA, 'utf8')) as {
    properties: { traits: { properties: { email: { 'ory.sh/kratos': { credentials: Record<string, unknown> } } } } };
  };
  delete schema.properties.traits.properties.email['ory.sh/kratos'].credentials.code;
  return `base64://${Buffer.from(JSON.stringify(schema)).toString('base64')}`;
}

function kratosOverrides(): JsonObject {
  return {
    identity: {
      schemas: [
        { id: 'default', url: `file://${DEFAULT_SCHEMA}` },
        { id: 'no-code-address', url: schemaWithoutCodeAddress() },
      ],
    },
  };
}

/** An identity of `schema` with a password, created through the admin API; its aal1 browser cookie. */
async function aal1Cookie(stack: Stack, schema: 'default' | 'no-code-address'): Promise<CookieJar> {
  const email = `code-mfa-${randomUUID()}@example.com`;
  const password = `pw-${randomUUID()}`;
  const created = await send(`${stack.kratosAdminUrl}/admin/identities`, {
    method: 'POST',
    headers: API,
    body: { schema_id: schema, traits: { email }, credentials: { password: { config: { password } } } },
  });
  assert.equal(created.status, 201, created.text);
  const jar = new CookieJar();
  assert.equal(await browserPasswordLogin(stack.baseUrl, jar, email, password), 'aal1');
  return jar;
}

test(
  'code MFA: the service and Kratos whoami (required_aal: highest_available) agree, per Kratos version',
  { timeout: 15 * 60_000 },
  async (t) => {
    for (const factory of await stackFactories(t)) {
      const envoy = factory.envoyVersions.at(-1);
      assert.ok(envoy);
      const expectedRule = factory.kratosVersion === 'v1.3.1' ? 'every_identity' : 'code_address';
      for (const codeMfa of [true, false]) {
        const plan = factory.plan(envoy, {
          name: `code MFA ${codeMfa ? 'on' : 'off'}, a schema without a code address`,
          kratosOverrides: kratosOverrides(),
          kratosEnv: { SELFSERVICE_METHODS_CODE_MFA_ENABLED: String(codeMfa) },
          serviceOverrides: { kratos: { code_mfa_enabled: codeMfa } },
        });
        await t.test(plan.description, () =>
          withStack(plan, async (stack) => {
            const started = (stack.logs.get(EXT_AUTHZ) ?? []).find((line) => line.includes('"code_mfa_rule"'));
            assert.ok(started, 'the service logs the code-MFA rule at start');
            assert.match(
              started,
              new RegExp(`"kratos_version":"${factory.kratosVersion}".*"code_mfa_rule":"${expectedRule}"`),
            );
            // Kratos's own verdict: a second Kratos on the same database, whoami at highest_available.
            const oracle = await stack.startTwinKratos({ SESSION_WHOAMI_REQUIRED_AAL: 'highest_available' });
            const verdicts: string[] = [];
            for (const schema of ['default', 'no-code-address'] as const) {
              const jar = await aal1Cookie(stack, schema);
              const service = await send(`${stack.baseUrl}/app/code-mfa`, { headers: API, jar });
              const cookie = jar.get(SESSION_COOKIE);
              assert.ok(cookie);
              const own = await send(`${oracle}/sessions/whoami`, {
                headers: { ...API, cookie: `${SESSION_COOKIE}=${cookie}` },
              });
              verdicts.push(`${schema}: service ${service.status}, Kratos whoami ${own.status}`);
              assert.ok([200, 403].includes(service.status), `${schema}: service ${service.status} ${service.text}`);
              assert.ok([200, 403].includes(own.status), `${schema}: Kratos ${own.status} ${own.text}`);
              assert.equal(
                service.status,
                own.status,
                `${schema}: the service answered ${service.status}, Kratos's own whoami ${own.status}`,
              );
            }
            t.diagnostic(`${plan.description}: ${verdicts.join('; ')}`);
            return true;
          }),
        );
      }
    }
  },
);
