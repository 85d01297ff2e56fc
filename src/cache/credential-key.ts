import { createHash } from 'node:crypto';
import type { Credential } from '../request/credentials';

/**
 * The cache key for a credential: a SHA-256 of its kind and value, so no raw cookie or token
 * is ever kept as a key or outlives the request that carried it.
 */
export function credentialKey(credential: Credential): string {
  return createHash('sha256').update(credential.kind).update('\0').update(credential.value).digest('base64');
}
