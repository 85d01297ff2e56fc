import { IDENTITY_HEADERS, type Answer } from '../answer/answer';

/**
 * Client-sent spellings with "_" that some upstreams (nginx with underscores_in_headers, CGI
 * and WSGI stacks that map both to HTTP_X_KRATOS_…) read as the identity headers. Envoy's
 * headers_with_underscores_action can reject them; removing them is the cheap second guard.
 */
const IDENTITY_HEADER_LOOKALIKES = IDENTITY_HEADERS.map((name) => name.replaceAll('-', '_'));
const NO_IDENTITY = [...IDENTITY_HEADERS, ...IDENTITY_HEADER_LOOKALIKES];

/**
 * What Envoy must strip from the upstream request on an allow (gRPC `headers_to_remove`, or the
 * `x-envoy-auth-headers-to-remove` answer header of http_service). Envoy only overwrites the
 * headers an answer sets, so without a subject a client's forged identity headers would
 * reach the upstream unless named here. The other proxies clear them in their own config.
 */
export function headersToRemove(answer: Extract<Answer, { kind: 'allow' }>): readonly string[] {
  return answer.identityHeaders.length > 0 ? IDENTITY_HEADER_LOOKALIKES : NO_IDENTITY;
}
