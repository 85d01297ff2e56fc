import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableAalOf, type AdminIdentityCredentials } from '../../../src/kratos/available-aal';
import type { CodeMfa } from '../../../src/kratos/code-mfa-rule';

// Shapes as GET /admin/identities/{id}?include_credential=webauthn&include_credential=code
// returns them: totp / lookup_secret / password / oidc come without `config`.
interface Entry {
  type?: string;
  identifiers?: string[];
  config?: unknown;
}

const PASSWORD: Entry = { type: 'password', identifiers: ['user@example.com'] };
const OIDC: Entry = { type: 'oidc', identifiers: ['google:123'] };
const TOTP: Entry = { type: 'totp', identifiers: ['user-id'] };
const LOOKUP: Entry = { type: 'lookup_secret', identifiers: ['user-id'] };
const webauthn = (...keys: object[]): Entry => ({
  type: 'webauthn',
  identifiers: ['user-id'],
  config: { credentials: keys, user_handle: 'aGFuZGxl' },
});
const code = (config: unknown): Entry => ({ type: 'code', identifiers: ['user@example.com'], config });

describe('availableAalOf (Kratos identity.SetAvailableAAL, §5.2)', () => {
  const cases: ReadonlyArray<{
    name: string;
    credentials: AdminIdentityCredentials | undefined;
    codeMfa?: CodeMfa;
    expected: 'aal1' | 'aal2';
  }> = [
    { name: 'credentials undefined', credentials: undefined, expected: 'aal1' },
    { name: 'no credentials', credentials: {}, expected: 'aal1' },
    { name: 'password only', credentials: { password: PASSWORD }, expected: 'aal1' },
    { name: 'password + oidc', credentials: { password: PASSWORD, oidc: OIDC }, expected: 'aal1' },
    { name: 'passkey only', credentials: { passkey: { config: { credentials: [{ id: 'k' }] } } }, expected: 'aal1' },
    { name: 'totp present (config not requested)', credentials: { password: PASSWORD, totp: TOTP }, expected: 'aal2' },
    { name: 'totp without even identifiers', credentials: { totp: {} }, expected: 'aal2' },
    { name: 'lookup_secret present', credentials: { password: PASSWORD, lookup_secret: LOOKUP }, expected: 'aal2' },
    { name: 'totp counts without a first factor', credentials: { totp: TOTP }, expected: 'aal2' },
    {
      name: 'webauthn with a second-factor key',
      credentials: { password: PASSWORD, webauthn: webauthn({ id: 'k1', is_passwordless: false }) },
      expected: 'aal2',
    },
    {
      name: 'webauthn with only passwordless keys',
      credentials: { webauthn: webauthn({ id: 'k1', is_passwordless: true }, { id: 'k2', is_passwordless: true }) },
      expected: 'aal1',
    },
    {
      name: 'webauthn passwordless + second-factor key',
      credentials: { webauthn: webauthn({ id: 'k1', is_passwordless: true }, { id: 'k2', is_passwordless: false }) },
      expected: 'aal2',
    },
    {
      name: 'webauthn key without is_passwordless counts (Go zero value false)',
      credentials: { webauthn: webauthn({ id: 'k1' }) },
      expected: 'aal2',
    },
    { name: 'webauthn with no keys', credentials: { password: PASSWORD, webauthn: webauthn() }, expected: 'aal1' },
    {
      name: 'webauthn without config',
      credentials: { webauthn: { type: 'webauthn', identifiers: ['user-id'] } satisfies Entry },
      expected: 'aal1',
    },
    {
      name: 'webauthn config.credentials not a list',
      credentials: { webauthn: { config: { credentials: 'x' } } },
      expected: 'aal1',
    },
    {
      name: 'webauthn key that is not an object is ignored',
      credentials: { webauthn: { config: { credentials: [null, 'k', 1] } } },
      expected: 'aal1',
    },
    {
      name: 'code with an address, mfa enabled (v25.4+ rule)',
      credentials: {
        password: PASSWORD,
        code: code({ addresses: [{ channel: 'email', address: 'user@example.com' }] }),
      },
      codeMfa: 'code_address',
      expected: 'aal2',
    },
    {
      name: 'code with an address, mfa disabled',
      credentials: {
        password: PASSWORD,
        code: code({ addresses: [{ channel: 'email', address: 'user@example.com' }] }),
      },
      codeMfa: 'off',
      expected: 'aal1',
    },
    {
      name: 'code with no addresses, mfa enabled',
      credentials: { code: code({ addresses: [] }) },
      codeMfa: 'code_address',
      expected: 'aal1',
    },
    {
      name: 'code with only empty addresses',
      credentials: { code: code({ addresses: [{ channel: 'email', address: '' }] }) },
      codeMfa: 'code_address',
      expected: 'aal1',
    },
    {
      name: 'code with one empty and one real address',
      credentials: { code: code({ addresses: [{ address: '' }, { channel: 'sms', address: '+4912345' }] }) },
      codeMfa: 'code_address',
      expected: 'aal2',
    },
    {
      name: 'legacy code config with address_type, mfa enabled',
      credentials: { code: code({ address_type: 'email', used_at: { Valid: false } }) },
      codeMfa: 'code_address',
      expected: 'aal2',
    },
    {
      name: 'legacy code config with address_type, mfa disabled',
      credentials: { code: code({ address_type: 'email' }) },
      codeMfa: 'off',
      expected: 'aal1',
    },
    {
      name: 'legacy code config with empty address_type',
      credentials: { code: code({ address_type: '' }) },
      codeMfa: 'code_address',
      expected: 'aal1',
    },
    { name: 'code without config', credentials: { code: code(undefined) }, codeMfa: 'code_address', expected: 'aal1' },
    { name: 'code config null', credentials: { code: code(null) }, codeMfa: 'code_address', expected: 'aal1' },
    // Kratos up to v1.3.x: with code MFA on, every identity counts, code credential or not.
    {
      name: 'password only, code MFA on under the v1.3 rule',
      credentials: { password: PASSWORD },
      codeMfa: 'every_identity',
      expected: 'aal2',
    },
    {
      name: 'code with no addresses under the v1.3 rule',
      credentials: { code: code({ addresses: [] }) },
      codeMfa: 'every_identity',
      expected: 'aal2',
    },
    {
      name: 'credentials undefined under the v1.3 rule',
      credentials: undefined,
      codeMfa: 'every_identity',
      expected: 'aal2',
    },
    {
      name: 'unknown credential types are ignored',
      credentials: { saml: { config: {} }, profile: {} },
      expected: 'aal1',
    },
  ];
  for (const { name, credentials, codeMfa = 'off', expected } of cases) {
    test(`${name} → ${expected}`, () => {
      assert.equal(availableAalOf(credentials, codeMfa), expected);
    });
  }
});
