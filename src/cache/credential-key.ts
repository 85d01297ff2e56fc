import { hash } from 'node:crypto';
import type { Credential } from '../request/credentials';

/**
 * The cache key for a credential: a SHA-256 of its kind and value, so no raw cookie or token
 * is ever kept as a key or outlives the request that carried it.
 */
export function credentialKey(credential: Credential): string {
  // One-shot crypto.hash: half the cost of a createHash() object on this hot path.
  return hash('sha256', `${credential.kind}\0${credential.value}`, 'base64');
}
