// The Kratos emulator (test/support/kratos-emulator.ts) against the real Kratos: the same whoami
// and admin-identity requests to both, compared on status, error id and code, and every field
// the product reads (session id → whose session, active, AAL, expires_at; credential types and
// the webauthn/code configs). Both sides get the same fixture: identity A with a password (and
// the email as a code address, as the demo schema makes Kratos store it), identity B with a
// password and TOTP; sessions at aal1 and aal2, cookies and tokens, one revoked.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { KratosEmulator, type CreatedSession, type EmulatorCredentials } from '../support/kratos-emulator';
import { API, CookieJar, field, isRecord, send, stringField, type HeaderMap, type Sent } from './http';
import { apiPasswordLogin, browserPasswordLogin, enrolTotp, registerWithPassword } from './kratos';
import { stackFactories } from './plans';
import { withStack } from './run-stack';
import { SESSION_COOKIE } from './story';
import { freshTotp } from './totp';

type RequiredAal = 'aal1' | 'highest_available';

/** Credentials of one side, by role. */
interface Fixture {
  publicUrl: string;
  adminUrl: string;
  identities: { A: string; B: string };
  tokens: { A: string; Baal1: string; Baal2: string; revoked: string; inactive: string };
  cookieA: string;
}

/** What the product reads from a whoami answer, with session ids replaced by their role. */
interface WhoamiView {
  status: number;
  errorId?: unknown;
  errorCode?: unknown;
  who?: string;
  active?: unknown;
  aal?: unknown;
  expiresAt?: boolean;
}

function whoIs(fixture: Fixture, identityId: unknown): string {
  if (identityId === fixture.identities.A) return 'A';
  if (identityId === fixture.identities.B) return 'B';
  return `other:${String(identityId)}`;
}

async function whoami(fixture: Fixture, headers: HeaderMap): Promise<WhoamiView> {
  const sent = await send(`${fixture.publicUrl}/sessions/whoami`, { headers: { ...API, ...headers } });
  if (sent.status !== 200)
    return {
      status: sent.status,
      errorId: field(sent.json, 'error', 'id'),
      errorCode: field(sent.json, 'error', 'code'),
    };
  return {
    status: 200,
    who: whoIs(fixture, field(sent.json, 'identity', 'id')),
    active: field(sent.json, 'active'),
    aal: field(sent.json, 'authenticator_assurance_level'),
    expiresAt: typeof field(sent.json, 'expires_at') === 'string',
  };
}

function whoamiCases(f: Fixture, requiredAal: RequiredAal): [string, HeaderMap][] {
  const cases: [string, HeaderMap][] = [
    ['no credential', {}],
    ['token A (X-Session-Token)', { 'x-session-token': f.tokens.A }],
    ['token A (Authorization: Bearer)', { authorization: `Bearer ${f.tokens.A}` }],
    ['cookie A', { cookie: `${SESSION_COOKIE}=${f.cookieA}` }],
    ['unknown token', { 'x-session-token': `nope-${randomUUID()}` }],
    ['undecodable cookie', { cookie: `${SESSION_COOKIE}=garbage` }],
    ['revoked token', { 'x-session-token': f.tokens.revoked }],
    ['token of a deactivated identity', { 'x-session-token': f.tokens.inactive }],
    [
      'token B aal1 + cookie A: precedence',
      { 'x-session-token': f.tokens.Baal1, cookie: `${SESSION_COOKIE}=${f.cookieA}` },
    ],
    [
      'X-Session-Token A + Bearer B: precedence',
      { 'x-session-token': f.tokens.A, authorization: `Bearer ${f.tokens.Baal1}` },
    ],
    ['token B at aal1 (aal2 available)', { 'x-session-token': f.tokens.Baal1 }],
    ['token B at aal2', { 'x-session-token': f.tokens.Baal2 }],
    ['token A + an undecodable cookie', { 'x-session-token': f.tokens.A, cookie: `${SESSION_COOKIE}=garbage` }],
  ];
  return cases.map(([name, headers]) => [`${name} [required_aal ${requiredAal}]`, headers]);
}

/** The admin identity as the product reads it: credential types, and which carry a config. */
async function adminIdentity(fixture: Fixture, id: string, query: string): Promise<unknown> {
  const sent = await send(`${fixture.adminUrl}/admin/identities/${encodeURIComponent(id)}${query}`, { headers: API });
  if (sent.status !== 200)
    return {
      status: sent.status,
      errorId: field(sent.json, 'error', 'id'),
      errorCode: field(sent.json, 'error', 'code'),
    };
  const credentials = field(sent.json, 'credentials');
  const view: Record<string, unknown> = {};
  if (isRecord(credentials)) {
    for (const type of Object.keys(credentials).sort()) {
      const config = field(credentials, type, 'config');
      const addresses = field(config, 'addresses');
      view[type] = {
        config: config === undefined || config === null ? 'absent' : 'present',
        addresses: Array.isArray(addresses)
          ? addresses.map((a) => `${String(field(a, 'channel'))}:${field(a, 'address') === undefined ? '?' : 'set'}`)
          : undefined,
      };
    }
  }
  return { status: 200, credentials: view };
}

async function realFixture(base: string, publicUrl: string, adminUrl: string): Promise<Fixture> {
  const emailA = `a-${randomUUID()}@example.com`;
  const emailB = `b-${randomUUID()}@example.com`;
  const password = `Conf-${randomUUID()}`;
  const a = await registerWithPassword(base, emailA, password);
  const b = await registerWithPassword(base, emailB, password);
  // Enrolling TOTP raises the enrolling session (b.token) to aal2.
  await enrolTotp(base, b.token, async (secret) => (await freshTotp(secret, undefined)).code);
  const bAal1 = await apiPasswordLogin(base, emailB, password);
  const revoked = await apiPasswordLogin(base, emailA, password);
  const logout = await send(`${base}/self-service/logout/api`, {
    method: 'DELETE',
    headers: API,
    body: { session_token: revoked.token },
  });
  assert.equal(logout.status, 204, `logout/api: HTTP ${logout.status} ${logout.text}`);
  // A third identity, logged in and then deactivated through the admin API.
  const c = await registerWithPassword(base, `c-${randomUUID()}@example.com`, password);
  const deactivated = await send(`${adminUrl}/admin/identities/${encodeURIComponent(c.identityId)}`, {
    method: 'PATCH',
    headers: API,
    body: [{ op: 'replace', path: '/state', value: 'inactive' }],
  });
  assert.equal(deactivated.status, 200, `PATCH identity state: HTTP ${deactivated.status} ${deactivated.text}`);
  const jar = new CookieJar();
  await browserPasswordLogin(base, jar, emailA, password);
  const cookieA = jar.get(SESSION_COOKIE);
  assert.ok(cookieA);
  return {
    publicUrl,
    adminUrl,
    identities: { A: a.identityId, B: b.identityId },
    tokens: { A: a.token, Baal1: bAal1.token, Baal2: b.token, revoked: revoked.token, inactive: c.token },
    cookieA,
  };
}

function emulatorFixture(emulator: KratosEmulator): Fixture {
  const emailA = `a-${randomUUID()}@example.com`;
  const emailB = `b-${randomUUID()}@example.com`;
  // As the demo identity schema makes Kratos store them: a code address and a key-less webauthn
  // credential for the email, beside the password.
  const schemaCredentials = (email: string): EmulatorCredentials => ({
    password: { identifiers: [email] },
    code: { addresses: [{ channel: 'email', address: email }] },
    webauthn: { credentials: [], identifiers: [email] },
  });
  const A = emulator.addIdentity({ traits: { email: emailA }, credentials: schemaCredentials(emailA) });
  const B = emulator.addIdentity({
    traits: { email: emailB },
    credentials: {
      ...schemaCredentials(emailB),
      totp: { totp_url: `otpauth://totp/demo:${emailB}?secret=JBSWY3DPEHPK3PXP` },
    },
  });
  const aal1 = [{ method: 'password', aal: 'aal1' as const }];
  const a: CreatedSession = emulator.createSession(A, { methods: aal1 });
  const cookie = emulator.createSession(A, { methods: aal1 });
  const bAal1 = emulator.createSession(B, { methods: aal1 });
  const bAal2 = emulator.createSession(B, { methods: [...aal1, { method: 'totp', aal: 'aal2' }] });
  const revoked = emulator.createSession(A, { methods: aal1 });
  emulator.revokeSession(revoked.id);
  const C = emulator.addIdentity({ credentials: schemaCredentials('c@example.com') });
  const inactive = emulator.createSession(C, { methods: aal1 });
  emulator.setIdentityState(C, 'inactive');
  return {
    publicUrl: emulator.publicUrl,
    adminUrl: emulator.adminUrl,
    identities: { A, B },
    tokens: { A: a.token, Baal1: bAal1.token, Baal2: bAal2.token, revoked: revoked.token, inactive: inactive.token },
    cookieA: cookie.cookie,
  };
}

/** A Set-Cookie line's shape: its name and attributes, the values only of Path and SameSite. */
function cookieShape(line: string): string {
  const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
  const shown = attributes.map((attribute) =>
    /^(Path|SameSite)=/i.test(attribute) ? attribute : (attribute.split('=')[0] ?? ''),
  );
  return [pair.slice(0, pair.indexOf('=')), ...shown].join('; ');
}

/**
 * RefreshCookie: the fixture's cookie session extended by the admin API (after every whoami
 * case, which it would otherwise change), then whoami with the old cookie and with the new one.
 */
async function extendView(fixture: Fixture): Promise<unknown> {
  const cookieLines = (sent: Sent) =>
    sent.headers.getSetCookie().filter((line) => line.startsWith(`${SESSION_COOKIE}=`));
  const old = { ...API, cookie: `${SESSION_COOKIE}=${fixture.cookieA}` };
  const before = await send(`${fixture.publicUrl}/sessions/whoami`, { headers: old });
  const extended = await send(
    `${fixture.adminUrl}/admin/sessions/${encodeURIComponent(stringField(before.json, 'id'))}/extend`,
    { method: 'PATCH', headers: API },
  );
  const after = await send(`${fixture.publicUrl}/sessions/whoami`, { headers: old });
  const renewed = cookieLines(after);
  const line = renewed[0] ?? '';
  const fresh = await send(`${fixture.publicUrl}/sessions/whoami`, {
    headers: { ...API, cookie: line.split(';')[0] ?? '' },
  });
  return {
    before: cookieLines(before).length,
    extend: [extended.status, field(extended.json, 'id') === field(before.json, 'id')],
    after: [after.status, renewed.length, renewed.map(cookieShape)],
    again: cookieLines(await send(`${fixture.publicUrl}/sessions/whoami`, { headers: old })).length,
    fresh: [fresh.status, cookieLines(fresh).length],
  };
}

async function compare(t: TestContext, real: Fixture, emulated: Fixture, requiredAal: RequiredAal): Promise<string[]> {
  const differences: string[] = [];
  const realCases = whoamiCases(real, requiredAal);
  const emulatedCases = whoamiCases(emulated, requiredAal);
  const statuses = new Set<number>();
  for (const [index, [name, headers]] of realCases.entries()) {
    const expected = await whoami(real, headers);
    statuses.add(expected.status);
    t.diagnostic(`real whoami ${name}: ${JSON.stringify(expected)}`);
    const got = await whoami(emulated, emulatedCases[index]?.[1] ?? {});
    if (JSON.stringify(expected) !== JSON.stringify(got))
      differences.push(`whoami ${name}: real ${JSON.stringify(expected)}, emulator ${JSON.stringify(got)}`);
  }
  for (const [name, query] of [
    ['include_credential=webauthn&code', '?include_credential=webauthn&include_credential=code'],
    ['no include_credential', ''],
    ['include_credential=nonsense', '?include_credential=nonsense'],
  ] as const) {
    for (const role of ['A', 'B'] as const) {
      const expected = await adminIdentity(real, real.identities[role], query);
      t.diagnostic(`real admin identity ${role} ${name}: ${JSON.stringify(expected)}`);
      const got = await adminIdentity(emulated, emulated.identities[role], query);
      if (JSON.stringify(expected) !== JSON.stringify(got))
        differences.push(
          `admin identity ${role} ${name}: real ${JSON.stringify(expected)}, emulator ${JSON.stringify(got)}`,
        );
    }
  }
  const missing = await adminIdentity(real, randomUUID(), '');
  const missingEmulated = await adminIdentity(emulated, randomUUID(), '');
  if (JSON.stringify(missing) !== JSON.stringify(missingEmulated))
    differences.push(
      `admin identity unknown id: real ${JSON.stringify(missing)}, emulator ${JSON.stringify(missingEmulated)}`,
    );
  const extendReal = await extendView(real);
  t.diagnostic(`real extend: ${JSON.stringify(extendReal)}`);
  const extendEmulated = await extendView(emulated);
  if (JSON.stringify(extendReal) !== JSON.stringify(extendEmulated))
    differences.push(
      `admin extend and RefreshCookie: real ${JSON.stringify(extendReal)}, emulator ${JSON.stringify(extendEmulated)}`,
    );
  // Not a vacuous comparison: the real answers span sessions found, not found and (with
  // highest_available) refused.
  assert.ok(statuses.has(200) && statuses.has(401), `real statuses ${[...statuses].join(', ')}`);
  if (requiredAal === 'highest_available')
    assert.ok(statuses.has(403), 'an aal1 session of B is refused under highest_available');
  t.diagnostic(`${realCases.length + 12} requests compared`);
  return differences;
}

test(
  'conformance: the Kratos emulator answers whoami and admin identity like the real Kratos',
  { timeout: 10 * 60_000 },
  async (t) => {
    for (const factory of await stackFactories(t)) {
      const envoy = factory.envoyVersions.at(-1);
      assert.ok(envoy);
      for (const requiredAal of ['aal1', 'highest_available'] as const) {
        const plan = factory.plan(envoy, {
          name: `session.whoami.required_aal ${requiredAal}`,
          kratosEnv: { SESSION_WHOAMI_REQUIRED_AAL: requiredAal },
        });
        await t.test(plan.description, (st) =>
          withStack(plan, async (stack) => {
            const real = await realFixture(stack.baseUrl, stack.kratosPublicUrl, stack.kratosAdminUrl);
            const emulator = await KratosEmulator.start({ requiredAal, cookieName: SESSION_COOKIE });
            try {
              const differences = await compare(st, real, emulatorFixture(emulator), requiredAal);
              assert.deepEqual(
                differences,
                [],
                `the emulator differs from Kratos ${factory.kratosVersion}:\n${differences.join('\n')}`,
              );
              return true;
            } finally {
              await emulator.stop();
            }
          }),
        );
      }
    }
  },
);
