import { isSpanContextValid, ROOT_CONTEXT, trace, type SpanContext, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3Propagator } from '@opentelemetry/propagator-b3';
import { traceHeader, type TraceHeaders } from './trace-context';

// Apart from trace-context.ts, which every door imports: OpenTelemetry is loaded only when tracing is on.
const w3c = new W3CTraceContextPropagator();
// Extracts both B3 forms, the single `b3` header and the x-b3-* set (Envoy's Zipkin tracer).
const b3 = new B3Propagator();

const getter: TextMapGetter<TraceHeaders> = {
  get: (carrier, name) => traceHeader(carrier, name.toLowerCase()),
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
