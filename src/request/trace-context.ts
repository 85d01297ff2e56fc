/**
 * One header of whatever carried the check, by lower-case name: the Check call's gRPC metadata
 * (where Envoy puts its ext_authz span), or the HTTP authorization request's headers. Only read
 * when tracing is on, so a transport hands a lookup rather than copying its headers.
 */
export type TraceHeaders = (name: string) => string | undefined;

/** No carrier (a tool, a test): the check starts its own trace when tracing is on. */
export const NO_TRACE_HEADERS: TraceHeaders = () => undefined;

type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * A lookup over a plain header map (Node's IncomingHttpHeaders, HTTP/2 stream headers): the
 * first value. The map is only fetched when read: Node builds `request.headers` on first access.
 */
export function traceHeadersOf(headers: () => HeaderMap): TraceHeaders {
  return (name) => {
    const value = headers()[name];
    return typeof value === 'string' ? value : value?.[0];
  };
}
