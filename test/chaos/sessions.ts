// The credentials the fault tests send, made through Kratos's real API flows (test/e2e/kratos.ts):
// valid session tokens and cookies, revoked ones (the identity's sessions deleted through the
// admin API before any check, so no cache can ever have held them as valid), and unknown ones.
import { randomBytes, randomUUID } from 'node:crypto';
import { API, CookieJar, send } from '../e2e/http';
import { browserPasswordLogin, registerWithPassword } from '../e2e/kratos';
import { SESSION_COOKIE } from '../e2e/story';
import type { Credential } from './load';

/** Kinds a correct authorizer may answer 200 for; every other kind must never be allowed. */
export const VERIFIABLE = 'valid';

interface Login {
  identityId: string;
  token: Credential;
  cookie: Credential;
}

async function login(base: string): Promise<Login> {
  const email = `chaos-${randomUUID()}@example.com`;
  const password = `Chaos-${randomUUID()}`;
  const session = await registerWithPassword(base, email, password);
  const jar = new CookieJar();
  await browserPasswordLogin(base, jar, email, password);
  const cookie = jar.get(SESSION_COOKIE);
  if (!cookie) throw new Error('browser login set no session cookie');
  return {
    identityId: session.identityId,
    token: { kind: VERIFIABLE, headers: { 'x-session-token': session.token } },
    cookie: { kind: VERIFIABLE, headers: { cookie: `${SESSION_COOKIE}=${cookie}` } },
  };
}

async function revoke(adminBase: string, identityId: string): Promise<void> {
  const done = await send(`${adminBase}/admin/identities/${encodeURIComponent(identityId)}/sessions`, {
    method: 'DELETE',
    headers: API,
  });
  if (done.status !== 204) throw new Error(`revoking the sessions of ${identityId} answered ${done.status}`);
}

const revoked = (credential: Credential): Credential => ({ ...credential, kind: 'revoked' });

export interface CredentialMix {
  /** Round-robin over valid, revoked and unknown tokens and cookies. */
  all: Credential[];
  /** Valid tokens never sent before: one per recovery check, so no cached answer can hide Kratos. */
  freshValid: Credential[];
}

export async function credentialMix(
  base: string,
  adminBase: string,
  users: number,
  fresh: number,
): Promise<CredentialMix> {
  const all: Credential[] = [];
  for (let i = 0; i < users; i++) {
    const valid = await login(base);
    all.push(valid.token, valid.cookie);
    const gone = await login(base);
    await revoke(adminBase, gone.identityId);
    all.push(revoked(gone.token), revoked(gone.cookie));
    all.push({ kind: 'unknown', headers: { 'x-session-token': `ory_st_${randomBytes(16).toString('hex')}` } });
    all.push({ kind: 'unknown', headers: { cookie: `${SESSION_COOKIE}=${randomBytes(24).toString('base64url')}` } });
  }
  const freshValid: Credential[] = [];
  for (let i = 0; i < fresh; i++) freshValid.push((await login(base)).token);
  return { all, freshValid };
}
