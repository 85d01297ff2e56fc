// Ory Kratos self-service flows, driven over HTTP exactly as a native app (API flows with a
// session token) or a single-page app in a browser (browser flows with cookies and CSRF token,
// Accept: application/json) would. Every call goes through Envoy, where Kratos's public routes
// have ext_authz disabled.
import assert from 'node:assert/strict';
import { API, field, isRecord, send, stringField, type CookieJar, type Sent } from './http';

function describe(sent: Sent): string {
  return `HTTP ${sent.status}: ${sent.text.slice(0, 2000)}`;
}

function expectStatus(sent: Sent, expected: number | number[], what: string): void {
  const allowed = Array.isArray(expected) ? expected : [expected];
  assert.ok(allowed.includes(sent.status), `${what}: expected ${allowed.join(' or ')}, got ${describe(sent)}`);
}

function nodes(flow: unknown): Record<string, unknown>[] {
  const list = field(flow, 'ui', 'nodes');
  assert.ok(Array.isArray(list), `flow has ui.nodes: ${JSON.stringify(flow)?.slice(0, 2000)}`);
  return list.filter(isRecord);
}

/** The value of the input node called `name` (e.g. csrf_token). */
export function inputValue(flow: unknown, name: string): string {
  const node = nodes(flow).find((n) => field(n, 'attributes', 'name') === name);
  const value = field(node, 'attributes', 'value');
  assert.equal(typeof value, 'string', `flow has an input "${name}"`);
  return value as string;
}

/** The TOTP secret from the settings flow's text node `totp_secret_key`. */
export function totpSecret(flow: unknown): string {
  const node = nodes(flow).find((n) => field(n, 'attributes', 'id') === 'totp_secret_key');
  const secret = field(node, 'attributes', 'text', 'context', 'secret') ?? field(node, 'attributes', 'text', 'text');
  assert.equal(
    typeof secret,
    'string',
    'the settings flow shows totp_secret_key (is selfservice.methods.totp enabled?)',
  );
  return secret as string;
}

export interface ApiSession {
  token: string;
  sessionId: string;
  identityId: string;
  aal: string;
}

function apiSession(sent: Sent): ApiSession {
  return {
    token: stringField(sent.json, 'session_token'),
    sessionId: stringField(sent.json, 'session', 'id'),
    // Kratos answers `"identity": null` for a login session that does not meet
    // session.whoami.required_aal (an aal1 login of an identity with TOTP under highest_available).
    identityId:
      typeof field(sent.json, 'session', 'identity', 'id') === 'string'
        ? stringField(sent.json, 'session', 'identity', 'id')
        : '',
    aal: stringField(sent.json, 'session', 'authenticator_assurance_level'),
  };
}

/** Native registration with traits and password; the `session` hook returns a session token. */
export async function registerWithPassword(base: string, email: string, password: string): Promise<ApiSession> {
  const flow = await send(`${base}/self-service/registration/api`, { headers: API });
  expectStatus(flow, 200, 'create registration flow');
  const flowId = stringField(flow.json, 'id');
  const done = await send(`${base}/self-service/registration?flow=${encodeURIComponent(flowId)}`, {
    headers: API,
    body: { method: 'password', password, traits: { email } },
  });
  expectStatus(done, 200, 'submit registration');
  return apiSession(done);
}

/** Native login with the password only: an aal1 session token. */
export async function apiPasswordLogin(base: string, email: string, password: string): Promise<ApiSession> {
  const flow = await send(`${base}/self-service/login/api`, { headers: API });
  expectStatus(flow, 200, 'create login flow');
  const flowId = stringField(flow.json, 'id');
  const done = await send(`${base}/self-service/login?flow=${encodeURIComponent(flowId)}`, {
    headers: API,
    body: { method: 'password', identifier: email, password },
  });
  expectStatus(done, 200, 'submit login');
  return apiSession(done);
}

/** Native settings flow: reads the offered TOTP secret and confirms it with a code. */
export async function enrolTotp(
  base: string,
  token: string,
  codeFor: (secret: string) => Promise<string>,
): Promise<string> {
  const headers = { ...API, 'x-session-token': token };
  const flow = await send(`${base}/self-service/settings/api`, { headers });
  expectStatus(flow, 200, 'create settings flow');
  const flowId = stringField(flow.json, 'id');
  const secret = totpSecret(flow.json);
  const done = await send(`${base}/self-service/settings?flow=${encodeURIComponent(flowId)}`, {
    headers,
    body: { method: 'totp', totp_code: await codeFor(secret) },
  });
  expectStatus(done, 200, 'submit TOTP enrolment');
  assert.equal(field(done.json, 'state'), 'success', `settings flow succeeded: ${describe(done)}`);
  return secret;
}

/**
 * Browser (SPA) login with the password only; leaves the aal1 session cookie in `jar`. With
 * `refresh`, a re-authentication of the session already in `jar` (Kratos resets its authenticated_at).
 */
export async function browserPasswordLogin(
  base: string,
  jar: CookieJar,
  email: string,
  password: string,
  refresh = false,
): Promise<string> {
  const flow = await send(`${base}/self-service/login/browser${refresh ? '?refresh=true' : ''}`, { headers: API, jar });
  expectStatus(flow, 200, 'create browser login flow');
  const flowId = stringField(flow.json, 'id');
  const done = await send(`${base}/self-service/login?flow=${encodeURIComponent(flowId)}`, {
    headers: API,
    jar,
    body: { method: 'password', identifier: email, password, csrf_token: inputValue(flow.json, 'csrf_token') },
  });
  expectStatus(done, 200, 'submit browser login');
  return stringField(done.json, 'session', 'authenticator_assurance_level');
}

/** Browser step-up: an aal2 login flow for the existing session, completed with a TOTP code. */
export async function browserTotpStepUp(base: string, jar: CookieJar, code: () => Promise<string>): Promise<string> {
  const flow = await send(`${base}/self-service/login/browser?aal=aal2`, { headers: API, jar });
  expectStatus(flow, 200, 'create aal2 login flow');
  assert.equal(field(flow.json, 'requested_aal'), 'aal2');
  const flowId = stringField(flow.json, 'id');
  const done = await send(`${base}/self-service/login?flow=${encodeURIComponent(flowId)}`, {
    headers: API,
    jar,
    body: { method: 'totp', totp_code: await code(), csrf_token: inputValue(flow.json, 'csrf_token') },
  });
  expectStatus(done, 200, 'submit TOTP step-up');
  return stringField(done.json, 'session', 'authenticator_assurance_level');
}

/** Browser logout: fetch the logout token, then call the logout URL (clears the cookie). */
export async function browserLogout(base: string, jar: CookieJar): Promise<void> {
  const logout = await send(`${base}/self-service/logout/browser`, { headers: API, jar });
  expectStatus(logout, 200, 'create logout URL');
  const token = stringField(logout.json, 'logout_token');
  const done = await send(`${base}/self-service/logout?token=${encodeURIComponent(token)}`, { headers: API, jar });
  // 204 for JSON clients; 303 to the after-logout URL for plain browser requests.
  expectStatus(done, [204, 303], 'perform logout');
}

/** Credential types of an identity, from the admin API (no credential configs requested). */
export async function credentialTypes(adminBase: string, identityId: string): Promise<string[]> {
  const identity = await send(`${adminBase}/admin/identities/${encodeURIComponent(identityId)}`, { headers: API });
  expectStatus(identity, 200, 'admin get identity');
  const credentials = field(identity.json, 'credentials');
  return isRecord(credentials) ? Object.keys(credentials).sort() : [];
}

/** Native settings flow: generates recovery codes (lookup_secret) and confirms them; returns the codes. */
export async function enrolRecoveryCodes(base: string, token: string): Promise<string[]> {
  const headers = { ...API, 'x-session-token': token };
  const flow = await send(`${base}/self-service/settings/api`, { headers });
  expectStatus(flow, 200, 'create settings flow');
  const flowId = stringField(flow.json, 'id');
  const url = `${base}/self-service/settings?flow=${encodeURIComponent(flowId)}`;
  const generated = await send(url, { headers, body: { method: 'lookup_secret', lookup_secret_regenerate: true } });
  expectStatus(generated, 200, 'generate recovery codes');
  const node = nodes(generated.json).find((n) => field(n, 'attributes', 'id') === 'lookup_secret_codes');
  const secrets = field(node, 'attributes', 'text', 'context', 'secrets');
  assert.ok(Array.isArray(secrets) && secrets.length > 0, `the flow shows lookup_secret_codes: ${describe(generated)}`);
  const codes = secrets.map((secret) => stringField(secret, 'context', 'secret'));
  const confirmed = await send(url, { headers, body: { method: 'lookup_secret', lookup_secret_confirm: true } });
  expectStatus(confirmed, 200, 'confirm recovery codes');
  assert.equal(field(confirmed.json, 'state'), 'success', `settings flow succeeded: ${describe(confirmed)}`);
  return codes;
}

/** Browser step-up with a recovery code instead of TOTP. */
export async function browserRecoveryCodeStepUp(base: string, jar: CookieJar, code: string): Promise<string> {
  const flow = await send(`${base}/self-service/login/browser?aal=aal2`, { headers: API, jar });
  expectStatus(flow, 200, 'create aal2 login flow');
  const flowId = stringField(flow.json, 'id');
  const done = await send(`${base}/self-service/login?flow=${encodeURIComponent(flowId)}`, {
    headers: API,
    jar,
    body: { method: 'lookup_secret', lookup_secret: code, csrf_token: inputValue(flow.json, 'csrf_token') },
  });
  expectStatus(done, 200, 'submit recovery-code step-up');
  return stringField(done.json, 'session', 'authenticator_assurance_level');
}

/**
 * Browser step-up with a one-time code sent by email (code MFA): the first submit asks Kratos to
 * send the code (Kratos answers 400 with the flow, now waiting for the code), the second sends it.
 */
export async function browserCodeStepUp(
  base: string,
  jar: CookieJar,
  address: string,
  readCode: () => Promise<string>,
): Promise<string> {
  const flow = await send(`${base}/self-service/login/browser?aal=aal2`, { headers: API, jar });
  expectStatus(flow, 200, 'create aal2 login flow');
  const flowId = stringField(flow.json, 'id');
  const csrf = inputValue(flow.json, 'csrf_token');
  const url = `${base}/self-service/login?flow=${encodeURIComponent(flowId)}`;
  const sent = await send(url, { headers: API, jar, body: { method: 'code', csrf_token: csrf, address } });
  expectStatus(sent, 400, 'request a login code');
  assert.equal(field(sent.json, 'state'), 'sent_email', describe(sent));
  const done = await send(url, {
    headers: API,
    jar,
    body: { method: 'code', csrf_token: csrf, code: await readCode(), address },
  });
  expectStatus(done, 200, 'submit the login code');
  return stringField(done.json, 'session', 'authenticator_assurance_level');
}
