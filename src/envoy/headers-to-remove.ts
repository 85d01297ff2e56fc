import { IDENTITY_HEADERS, type Answer } from '../answer/answer';

/**
 * Client-sent spellings with "_" that some upstreams (nginx with underscores_in_headers, CGI
 * and WSGI stacks that map both to HTTP_X_KRATOS_…) read as the identity headers. Envoy's
 * headers_with_underscores_action can reject them; removing them is the cheap second guard.
 */
function lookalikeOf(name: string): string {
  return name.replaceAll('-', '_');
}

const IDENTITY_HEADER_LOOKALIKES = IDENTITY_HEADERS.map(lookalikeOf);
const NO_IDENTITY = [...IDENTITY_HEADERS, ...IDENTITY_HEADER_LOOKALIKES];

/**
 * What Envoy must strip from the upstream request on an allow (gRPC `headers_to_remove`, or the
 * `x-envoy-auth-headers-to-remove` answer header of http_service). Envoy only overwrites the
 * headers an answer sets, so every identity header it does not set (all of them without a
 * subject; a trait header whose trait is missing or unfit) would reach the upstream as the
 * client forged it unless named here. The other proxies clear them in their own config.
 */
export function headersToRemove(answer: Extract<Answer, { kind: 'allow' }>): readonly string[] {
  // The answers of a configuration without identity_headers or upstream_jwt: no list is built.
  if (answer.withheld.length === 0 && answer.identityHeaders.length === IDENTITY_HEADERS.length) return IDENTITY_HEADER_LOOKALIKES;
  if (answer.withheld.length === IDENTITY_HEADERS.length && answer.identityHeaders.length === 0) return NO_IDENTITY;
  const names = [...answer.identityHeaders.map(([name]) => name), ...answer.withheld];
  // A name without "-" (authorization) is its own lookalike: it is set or withheld already.
  return [...answer.withheld, ...names.map(lookalikeOf).filter((lookalike) => !names.includes(lookalike))];
}
