import { findCookie } from './cookies';
import type { HeaderBag } from './headers';

export type CredentialKind = 'cookie' | 'token';

/**
 * The one credential forwarded to Kratos. `source` says where it was found (for logs);
 * `wellFormed` is false when the value could never be a Kratos credential (control or
 * non-ASCII bytes, or absurd length): such a request is answered as unauthenticated without
 * asking Kratos, and the value is never put into an HTTP header.
 */
export interface Credential {
  kind: CredentialKind;
  source: 'x-session-token' | 'cookie' | 'authorization';
  value: string;
  wellFormed: boolean;
}

type Extractor = (headers: HeaderBag) => Credential | undefined;

// Kratos session tokens are ~40 characters and its cookies a few hundred; anything past this
// is not a credential Kratos issued.
const MAX_CREDENTIAL_LENGTH = 4096;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

function credential(kind: CredentialKind, source: Credential['source'], value: string): Credential {
  return { kind, source, value, wellFormed: value.length <= MAX_CREDENTIAL_LENGTH && VISIBLE_ASCII.test(value) };
}

/** Kratos uses a non-empty X-Session-Token and then consults nothing else. */
export const sessionTokenHeader: Extractor = (headers) => {
  const value = headers.first('x-session-token');
  return value ? credential('token', 'x-session-token', value) : undefined;
};

/** The Kratos session cookie; an empty value counts as absent, as Kratos cannot decode it. */
export function sessionCookie(cookieName: string): Extractor {
  return (headers) => {
    const value = findCookie(headers.all('cookie'), cookieName);
    return value ? credential('cookie', 'cookie', value) : undefined;
  };
}

/**
 * `Authorization: Bearer <token>` exactly as Kratos reads it: split on single spaces, exactly two
 * parts, scheme compared case-insensitively. "Bearer  x" and "Bearer a b" carry no token.
 */
export const bearerToken: Extractor = (headers) => {
  const header = headers.first('authorization');
  if (header === undefined) return undefined;
  const parts = header.split(' ');
  if (parts.length !== 2 || parts[0]?.toLowerCase() !== 'bearer' || !parts[1]) return undefined;
  return credential('token', 'authorization', parts[1]);
};

/** Tries the extractors in order and keeps the first hit, like Kratos's own extractToken. */
export function firstOf(...extractors: Extractor[]): Extractor {
  return (headers) => {
    for (const extract of extractors) {
      const found = extract(headers);
      if (found) return found;
    }
    return undefined;
  };
}

/** Kratos's precedence: X-Session-Token, then the session cookie, then Authorization: Bearer. */
export function kratosCredentialExtractor(cookieName: string): Extractor {
  return firstOf(sessionTokenHeader, sessionCookie(cookieName), bearerToken);
}
