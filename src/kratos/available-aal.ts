import type { CodeMfa } from './code-mfa-rule';

/**
 * The identity's highest available AAL, computed from `GET /admin/identities/{id}` the way Kratos
 * computes its internal `available_aal` (identity.SetAvailableAAL), without asking for secrets:
 * only webauthn and code configs are requested; totp and lookup_secret count by presence.
 */
export interface AdminIdentityCredentials {
  [type: string]: { config?: unknown } | undefined;
}

export function availableAalOf(credentials: AdminIdentityCredentials | undefined, codeMfa: CodeMfa): 'aal1' | 'aal2' {
  // Kratos up to v1.3.x counts code MFA as a second factor of every identity (code-mfa-rule.ts).
  if (codeMfa === 'every_identity') return 'aal2';
  if (!credentials) return 'aal1';
  if (credentials.totp || credentials.lookup_secret) return 'aal2';
  if (hasSecondFactorWebauthnKey(credentials.webauthn?.config)) return 'aal2';
  if (codeMfa === 'code_address' && hasCodeAddress(credentials.code?.config)) return 'aal2';
  return 'aal1';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Kratos counts every WebAuthn key that is not passwordless as a second factor. */
function hasSecondFactorWebauthnKey(config: unknown): boolean {
  if (!isRecord(config) || !Array.isArray(config.credentials)) return false;
  return config.credentials.some((key) => isRecord(key) && key.is_passwordless !== true);
}

/** With mfa_enabled, a code credential with at least one address (or a legacy address_type) counts. */
function hasCodeAddress(config: unknown): boolean {
  if (!isRecord(config)) return false;
  if (Array.isArray(config.addresses)) {
    return config.addresses.some(
      (entry) => isRecord(entry) && typeof entry.address === 'string' && entry.address !== '',
    );
  }
  return typeof config.address_type === 'string' && config.address_type !== '';
}
