import { IDENTITY_HEADERS } from '../request/identity-headers';
import type { Answer } from './answer';
import { spellingsOf } from '../request/header-spellings';
import { credentialsToRemove } from '../upstream/upstream-credentials';

/** The spellings that are not the name itself: the ones an allow that sets the name must still remove. */
function lookalikesOf(name: string): readonly string[] {
  return spellingsOf(name).slice(1);
}

const IDENTITY_HEADER_LOOKALIKES = Object.freeze(IDENTITY_HEADERS.flatMap(lookalikesOf));
const NO_IDENTITY = Object.freeze(IDENTITY_HEADERS.flatMap(spellingsOf));

// The lists of the other answers, by the names they set and withhold: a configuration has a
// few such shapes (which traits a session lacks). Bounded all the same, as reloads change names.
const MAX_SHAPES = 256;
const listsByShape = new Map<string, readonly string[]>();

/**
 * What Envoy must strip from the upstream request on an allow (gRPC `headers_to_remove`, or the
 * `x-envoy-auth-headers-to-remove` answer header of http_service). Envoy only overwrites the
 * headers an answer sets, so every spelling of an identity header it does not set (all of them
 * without a subject; a trait header whose trait is missing or unfit), and every other spelling
 * of one it sets, would reach the upstream as the client forged it unless named here. The list
 * does not depend on what the authorizer was shown of the request: Envoy's http_service,
 * Istio's includeRequestHeadersInCheck and Envoy Gateway's headersToExtAuth let only a few
 * client headers through to it. The other proxies clear them in their own config.
 *
 * The same frozen array for the same shape of answer, so the gRPC codec encodes each list once.
 */
export function headersToRemove(answer: Extract<Answer, { kind: 'allow' }>): readonly string[] {
  // The answers of a configuration without identity_headers or upstream_jwt: no list is built.
  if (answer.withheld.length === 0 && answer.identityHeaders.length === IDENTITY_HEADERS.length)
    return IDENTITY_HEADER_LOOKALIKES;
  if (answer.withheld.length === IDENTITY_HEADERS.length && answer.identityHeaders.length === 0) return NO_IDENTITY;
  // "," and " " are not header-name characters (RFC 9110 tchar), so no two shapes share a key.
  const shape = `${answer.withheld.join(',')} ${answer.identityHeaders.map(([name]) => name).join(',')}`;
  let names = listsByShape.get(shape);
  if (names === undefined) {
    // A name without "-" (authorization) has no lookalike: it is set or withheld already.
    names = Object.freeze([
      ...answer.withheld.flatMap(spellingsOf),
      ...answer.identityHeaders.flatMap(([name]) => lookalikesOf(name)),
    ]);
    if (listsByShape.size >= MAX_SHAPES) listsByShape.clear();
    listsByShape.set(shape, names);
  }
  return names;
}

/**
 * Everything Envoy is to strip from the upstream request on an allow, for both Envoy doors: the
 * identity spellings above, then the credential headers strip_credentials takes away whole.
 * headersToRemove's frozen list passes on as it is when no credential goes (the codec keeps its
 * encoded bytes).
 */
export function upstreamRemovals(answer: Extract<Answer, { kind: 'allow' }>): readonly string[] {
  const credentials = credentialsToRemove(answer.upstreamCredentials);
  return credentials.length === 0 ? headersToRemove(answer) : [...headersToRemove(answer), ...credentials];
}
