import type { SigningKey } from './signing-key';

/**
 * How long a verifier may keep /.well-known/jwks.json. Rotation waits this long between
 * "publish the new key second" and "make it first", so it is kept short.
 */
export const JWKS_MAX_AGE_SECONDS = 300;

/** The JWK Set (RFC 7517 §5) of every upstream_jwt key: public members, kid, alg, use only. */
export function jwksDocument(keys: readonly SigningKey[]): string {
  return JSON.stringify({ keys: keys.map((key) => key.publicJwk) });
}
