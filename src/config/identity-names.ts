import { MAX_NAME_SEPARATORS } from '../request/header-spellings';
import { IDENTITY_HEADERS } from '../request/identity-headers';

// RFC 9110 §5.6.2 token, lower case (Envoy and HTTP/2 carry names lower case). No "_": nginx
// drops such headers by default, and the "_" spellings are the ones cleared as lookalikes.
const LOWERCASE_TOKEN = /^[a-z0-9!#$%&'*+.^`|~-]+$/;

// RFC 9110 §7.6.1 and the headers every proxy treats as its own connection's business.
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// Headers that route, frame, authenticate or trace the request, or say where it came from: users
// edit their own traits (the settings flow), so a trait value must never become one of these.
const REQUEST_DEFINING: ReadonlySet<string> = new Set([
  'host',
  'cookie',
  'authorization',
  'x-session-token',
  'expect',
  'range',
  'origin',
  'forwarded',
  'via',
  'x-real-ip',
  'x-request-id',
]);
const REQUEST_DEFINING_PREFIXES = ['content-', 'x-forwarded-', 'x-original-', 'sec-', 'proxy-'];

// An HTTP front door answers a 200 whose set-cookie lines the proxy hands to the browser (the
// renewed session cookie): a trait there would set a cookie of the user's choosing.
const CLIENT_BOUND: ReadonlySet<string> = new Set([
  'set-cookie',
  'location',
  'www-authenticate',
  'cache-control',
  'retry-after',
]);

/**
 * Why a header name cannot carry identity (identity_headers, upstream_jwt.header), or
 * undefined when it can. `authorization` is allowed as the JWT's header only (as a Bearer).
 */
export function identityHeaderNameProblem(name: string, role: 'trait' | 'jwt'): string | undefined {
  if (name.startsWith(':')) return 'is a pseudo-header: only regular request headers can be set';
  if (!LOWERCASE_TOKEN.test(name)) return 'must be a lower-case HTTP header name (letters, digits and "-"; no "_")';
  if (name.split('-').length - 1 > MAX_NAME_SEPARATORS)
    return `has more than ${MAX_NAME_SEPARATORS} "-": the Envoy doors strip each of its 3^n "-"/"_"/"." spellings on every allow`;
  if (HOP_BY_HOP.has(name)) return 'is a hop-by-hop header: proxies drop or interpret it';
  if (name === 'authorization' && role === 'jwt') return undefined;
  if (name === 'authorization') return 'is allowed as upstream_jwt.header only';
  if (REQUEST_DEFINING.has(name) || REQUEST_DEFINING_PREFIXES.some((prefix) => name.startsWith(prefix)))
    return 'is a header that defines the request itself or where it came from';
  if (CLIENT_BOUND.has(name))
    return 'is a header of the answer to the client, which the HTTP front doors send beside the identity headers';
  if (name.startsWith('x-envoy-')) return "is in Envoy's own x-envoy-* namespace";
  if ((IDENTITY_HEADERS as readonly string[]).includes(name))
    return 'is one of the x-kratos-* identity headers this service always sets';
  if (role === 'trait' && name.startsWith('x-kratos-'))
    return 'is in the x-kratos-* namespace this service keeps for its own headers';
  return undefined;
}

// The claims upstream_jwt always sets (RFC 7519 §4.1, plus sid, aal and amr): a trait cannot replace one.
const REGISTERED_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'sid',
  'aal',
  'amr',
]);

const CLAIM_NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]{0,99}$/;

export function claimNameProblem(name: string): string | undefined {
  if (!CLAIM_NAME.test(name))
    return 'must be a claim name of letters, digits, "_", ".", ":", "/" and "-", starting with a letter or "_"';
  if (REGISTERED_CLAIMS.has(name)) return `is a claim upstream_jwt always sets (${[...REGISTERED_CLAIMS].join(' ')})`;
  if (name === '__proto__' || name === 'constructor' || name === 'prototype') return 'is reserved';
  return undefined;
}
