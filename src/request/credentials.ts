import { findCookies } from './cookies';
import type { HeaderBag } from './headers';

export type CredentialKind = 'cookie' | 'token';

/**
 * The one credential forwarded to Kratos. `value` is exactly what is forwarded: the token (sent
 * as X-Session-Token), or for the cookie the `Cookie` header holding every cookie of the session
 * cookie's name in the order received (Kratos tries them in turn and takes the first that
 * decodes; the app's other cookies never leave the request). `source` says where it was found
 * (for logs); `wellFormed` is false when a value could never be a Kratos credential (control or
 * non-ASCII bytes, absurd length or count): such a request is answered as unauthenticated
 * without asking Kratos, and the value is never put into an HTTP header.
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
// A browser holds one session cookie per matching domain/path; more than this is not a browser.
const MAX_SESSION_COOKIES = 8;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

function isCredentialText(value: string): boolean {
  return value.length <= MAX_CREDENTIAL_LENGTH && VISIBLE_ASCII.test(value);
}

/**
 * Kratos uses a non-empty X-Session-Token and then consults nothing else. Go's Header.Get reads
 * the first line only: where Envoy joined repeated lines with ",", the part before the first ","
 * is that line (tokens never contain one).
 */
export const sessionTokenHeader: Extractor = (headers) => {
  const header = headers.first('x-session-token');
  const value = header !== undefined && headers.joinsRepeatedLines ? firstJoinedValue(header) : header;
  return value ? { kind: 'token', source: 'x-session-token', value, wellFormed: isCredentialText(value) } : undefined;
};

function firstJoinedValue(joined: string): string {
  const comma = joined.indexOf(',');
  return comma === -1 ? joined : joined.slice(0, comma);
}

/** The Kratos session cookie(s); empty values count as absent, as Kratos cannot decode them. */
export function sessionCookie(cookieName: string): Extractor {
  return (headers) => {
    // One past the most a browser holds is enough to tell the request is not a browser's.
    const values = findCookies(headers.all('cookie'), cookieName, headers.joinsRepeatedLines, MAX_SESSION_COOKIES + 1);
    if (values.length === 0) return undefined;
    return {
      kind: 'cookie',
      source: 'cookie',
      value: values.map((value) => `${cookieName}=${value}`).join('; '),
      wellFormed: values.length <= MAX_SESSION_COOKIES && values.every(isCredentialText),
    };
  };
}

const BEARER = 'bearer';

/**
 * `Authorization: Bearer <token>` exactly as Kratos reads it: split on single spaces, exactly two
 * parts, scheme compared case-insensitively. "Bearer  x" and "Bearer a b" carry no token. Only
 * the first line counts, as for X-Session-Token. Found by position, not split: a header of
 * millions of spaces would be millions of strings.
 */
export const bearerToken: Extractor = (headers) => {
  const first = headers.first('authorization');
  if (first === undefined) return undefined;
  const header = headers.joinsRepeatedLines ? firstJoinedValue(first) : first;
  const space = header.indexOf(' ');
  if (space !== BEARER.length || header.slice(0, space).toLowerCase() !== BEARER || header.includes(' ', space + 1))
    return undefined;
  const token = header.slice(space + 1);
  return token
    ? { kind: 'token', source: 'authorization', value: token, wellFormed: isCredentialText(token) }
    : undefined;
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
