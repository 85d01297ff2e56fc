import { isSpanContextValid, ROOT_CONTEXT, trace, type SpanContext, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3Propagator } from '@opentelemetry/propagator-b3';

/**
 * One header of whatever carried the check, by lower-case name: the Check call's gRPC metadata
 * (where Envoy puts its ext_authz span), or the HTTP authorization request's headers. Only read
 * when tracing is on, so a transport hands a lookup rather than copying its headers.
 */
export type TraceHeaders = (name: string) => string | undefined;

const w3c = new W3CTraceContextPropagator();
// Extracts both B3 forms, the single `b3` header and the x-b3-* set (Envoy's Zipkin tracer).
const b3 = new B3Propagator();

const getter: TextMapGetter<TraceHeaders> = {
  get: (headers, name) => headers(name.toLowerCase()),
  // The propagators only ask for the names they know: listing the carrier's keys is never needed.
  keys: () => [],
};

/**
 * The caller's span the check continues: W3C `traceparent`/`tracestate` first (Envoy's
 * OpenTelemetry tracer; its `tracestate` is an empty string when there is none), else B3.
 * undefined when neither holds a valid context: the check then starts its own trace.
 */
export function readTraceContext(headers: TraceHeaders): SpanContext | undefined {
  for (const propagator of [w3c, b3]) {
    const found = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, headers, getter));
    if (found && isSpanContextValid(found)) return found;
  }
  return undefined;
}

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
