type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Whatever carried the check, read for its trace headers by lower-case name: the Check call
 * (whose gRPC metadata holds Envoy's ext_authz span) or the HTTP authorization request. A door
 * hands its call or request as it is, so a check with tracing off builds nothing for tracing:
 * `headers` is only read when tracing is on (Node's IncomingMessage builds its headers on
 * first access).
 */
export interface TraceHeaders {
  readonly headers: HeaderMap;
}

/** No carrier (a tool, a test): the check starts its own trace when tracing is on. */
export const NO_TRACE_HEADERS: TraceHeaders = { headers: {} };

/** A header's first value: a repeated one arrives as an array. */
export function traceHeader(carrier: TraceHeaders, name: string): string | undefined {
  const value = carrier.headers[name];
  return typeof value === 'string' ? value : value?.[0];
}
