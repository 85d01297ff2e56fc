// Code MFA through the real Kratos (the one STACK_KRATOS names, else the newest: .ci/run runs
// this once per pinned Kratos): with selfservice.methods.code.mfa_enabled on and off, for an
// identity whose schema makes its email a code address and one whose schema has no code
// identifier, the service's answer to an aal1 browser cookie must match Kratos's own whoami at
// required_aal: highest_available. That oracle is a second `kratos serve` on the same SQLite
// database and configuration, differing only in session.whoami.required_aal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject } from '../../stack/configs';
import { startLocalStack, waitUntilOk, EXT_AUTHZ, type LocalStack } from '../../stack/local-stack';
import { freePorts } from '../../stack/ports';
import { projectRoot } from '../../stack/project-root';
import { API, CookieJar, send } from './http';
import { browserPasswordLogin } from './kratos';
import { processStacksOrSkip } from './plans';
import { logTails } from './stack';
import { SESSION_COOKIE } from './story';

const ORACLE = 'kratos-oracle';
const DEFAULT_SCHEMA = join(projectRoot, 'envoy', 'kratos', 'identity.schema.json');

/** The demo schema without the email's code identifier: such an identity has no code address. */
function schemaWithoutCodeAddress(): string {
  const schema = JSON.parse(readFileSync(DEFAULT_SCHEMA, 'utf8')) as { properties: { traits: { properties: { email: { 'ory.sh/kratos': { credentials: Record<string, unknown> } } } } } };
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

/** Kratos's own verdict: a second Kratos on the same database, whoami at highest_available. */
async function startOracle(stack: LocalStack, kratosPath: string, codeMfa: boolean): Promise<string> {
  const [publicPort, adminPort] = await freePorts(2);
  stack.children.start({
    name: ORACLE,
    command: kratosPath,
    args: ['serve', '-c', join(stack.workDir, 'kratos.yml'), '--dev'],
    env: {
      DSN: `sqlite://${join(stack.workDir, 'kratos.sqlite')}?_fk=true&mode=rwc`,
      SERVE_PUBLIC_PORT: String(publicPort),
      SERVE_ADMIN_PORT: String(adminPort),
      SESSION_WHOAMI_REQUIRED_AAL: 'highest_available',
      SELFSERVICE_METHODS_CODE_MFA_ENABLED: String(codeMfa),
    },
  });
  const url = `http://127.0.0.1:${String(publicPort)}`;
  await waitUntilOk(`${url}/health/ready`, stack.children, ORACLE);
  return url;
}

/** An identity of `schema` with a password, created through the admin API; its aal1 browser cookie. */
async function aal1Cookie(stack: LocalStack, schema: 'default' | 'no-code-address'): Promise<CookieJar> {
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

test('code MFA: the service and Kratos whoami (required_aal: highest_available) agree, per Kratos version', { timeout: 15 * 60_000 }, async (t) => {
  const chosen = await processStacksOrSkip(t, 'starts a second Kratos process on the stack database');
  if (!chosen) return;
  const envoy = chosen.envoy.at(-1);
  assert.ok(envoy);
  const kratos = chosen.kratos;
  const expectedRule = kratos.version === 'v1.3.1' ? 'every_identity' : 'code_address';
  for (const codeMfa of [true, false]) {
    await t.test(`kratos ${kratos.version}, envoy ${envoy.version}, code MFA ${codeMfa ? 'on' : 'off'}`, async () => {
      const stack = await startLocalStack({
        envoy,
        kratos,
        kratosOverrides: kratosOverrides(),
        kratosEnv: { SELFSERVICE_METHODS_CODE_MFA_ENABLED: String(codeMfa) },
        serviceOverrides: { kratos: { code_mfa_enabled: codeMfa } },
      });
      let passed = false;
      try {
        const started = (stack.children.logs.get(EXT_AUTHZ) ?? []).find((line) => line.includes('"code_mfa_rule"'));
        assert.ok(started, 'the service logs the code-MFA rule at start');
        assert.match(started, new RegExp(`"kratos_version":"${kratos.version}".*"code_mfa_rule":"${expectedRule}"`));
        const oracle = await startOracle(stack, kratos.path, codeMfa);
        const verdicts: string[] = [];
        for (const schema of ['default', 'no-code-address'] as const) {
          const jar = await aal1Cookie(stack, schema);
          const service = await send(`${stack.baseUrl}/app/code-mfa`, { headers: API, jar });
          const cookie = jar.get(SESSION_COOKIE);
          assert.ok(cookie);
          const own = await send(`${oracle}/sessions/whoami`, { headers: { ...API, cookie: `${SESSION_COOKIE}=${cookie}` } });
          verdicts.push(`${schema}: service ${service.status}, Kratos whoami ${own.status}`);
          assert.ok([200, 403].includes(service.status), `${schema}: service ${service.status} ${service.text}`);
          assert.ok([200, 403].includes(own.status), `${schema}: Kratos ${own.status} ${own.text}`);
          assert.equal(service.status, own.status, `${schema}: the service answered ${service.status}, Kratos's own whoami ${own.status}`);
        }
        t.diagnostic(`kratos ${kratos.version}, code MFA ${codeMfa ? 'on' : 'off'}: ${verdicts.join('; ')}`);
        passed = true;
      } finally {
        if (!passed) process.stderr.write(`${logTails(stack.children.logs)}\n`);
        await stack.stop();
      }
    });
  }
});
