import {
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_FULL,
} from '@opentelemetry/semantic-conventions';
import type { Config } from '../config/schema';
import type { CallSpan, KratosEndpoint } from '../kratos/types';
import { readTraceContext } from '../request/caller-trace-context';
import type { TraceHeaders } from '../request/trace-context';
import type { Signing } from '../upstream/upstream-identity';
import type { CheckRecord, FrontDoor, TraceIds } from './check-observer';
import type { Logger } from './logger';
import { oncePer } from './once-per';
import type { CheckTrace, Tracing } from './tracing';

const DEFAULT_SERVICE_NAME = 'kratos-ext-authz';

/** Where the span attributes of this service live (the semantic conventions have none for a check). */
const ATTR = {
  frontDoor: 'kratos_ext_authz.front_door',
  rule: 'kratos_ext_authz.rule',
  decision: 'kratos_ext_authz.decision',
  reason: 'kratos_ext_authz.reason',
  credential: 'kratos_ext_authz.credential',
  cache: 'kratos_ext_authz.cache',
  coalesced: 'kratos_ext_authz.coalesced',
  aal: 'kratos_ext_authz.aal',
  identityId: 'kratos_ext_authz.identity_id',
  endpoint: 'kratos_ext_authz.kratos.endpoint',
} as const;

// The route, not the path: an identity id in a span name would give every user a name of their own.
const ROUTES: Readonly<Record<KratosEndpoint, string>> = {
  whoami: '/sessions/whoami',
  identity: '/admin/identities/{id}',
};

const GRPC_CHECK: Attributes = {
  'rpc.system': 'grpc',
  'rpc.service': 'envoy.service.auth.v3.Authorization',
  'rpc.method': 'Check',
};

/**
 * Span names per front door (gRPC's is its RPC, as the semantic conventions name it), and the
 * attributes known at the start.
 */
const CHECK_SPANS: Readonly<Record<FrontDoor, { name: string; attributes: Attributes }>> = {
  grpc: { name: 'envoy.service.auth.v3.Authorization/Check', attributes: { ...GRPC_CHECK, [ATTR.frontDoor]: 'grpc' } },
  envoy_http: { name: 'check envoy_http', attributes: { [ATTR.frontDoor]: 'envoy_http' } },
  forward_auth: { name: 'check forward_auth', attributes: { [ATTR.frontDoor]: 'forward_auth' } },
  auth_request: { name: 'check auth_request', attributes: { [ATTR.frontDoor]: 'auth_request' } },
};

const w3c = new W3CTraceContextPropagator();

/**
 * OpenTelemetry's SDK, exporting OTLP/HTTP protobuf in batches (bounded: the SDK's queue drops
 * spans past 2048 rather than grow). Settings in the file win; the rest are the SDK's OTEL_*
 * variables (endpoint, headers, sampler, batch sizes, resource attributes).
 */
export function createOtelTracing(settings: Config['tracing'], logger: Logger, env: NodeJS.ProcessEnv): Tracing {
  forwardDiagnostics(logger);
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (protocol !== undefined && protocol !== 'http/protobuf')
    logger.warn(
      { protocol },
      'tracing: only OTLP over http/protobuf is exported; OTEL_EXPORTER_OTLP_PROTOCOL is ignored',
    );
  logger.info(
    {
      endpoint:
        settings.endpoint ||
        'from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318)',
      sampler:
        settings.sampling_ratio === undefined
          ? `from OTEL_TRACES_SAMPLER (${env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on'})`
          : `parentbased_traceidratio ${settings.sampling_ratio}`,
    },
    'tracing: exporting spans over OTLP/HTTP',
  );
  const exporter = new OTLPTraceExporter(settings.endpoint ? { url: `${settings.endpoint}/v1/traces` } : {});
  const provider = new BasicTracerProvider({
    resource: resourceOf(settings.service_name),
    ...(settings.sampling_ratio === undefined ? {} : { sampler: ratioSampler(settings.sampling_ratio) }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer(DEFAULT_SERVICE_NAME);
  return {
    startCheck: (frontDoor, headers) => new OtelCheckTrace(tracer, frontDoor, headers),
    shutdown: () => provider.shutdown(),
  };
}

/** A caller's sampled decision is followed; a trace that starts here is kept at `ratio`. */
function ratioSampler(ratio: number): Sampler {
  return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
}

/** The SDK's defaults, then OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, then the file's service_name. */
function resourceOf(serviceName: string) {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME }))
    .merge(detectResources({ detectors: [envDetector] }));
  return serviceName ? resource.merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName })) : resource;
}

/** The SDK's own warnings (an unreachable collector, dropped spans) as log lines, at most one a minute. */
function forwardDiagnostics(logger: Logger): void {
  let last = '';
  const warn = oncePer(60_000, () =>
    logger.warn({ detail: last }, 'tracing: the OpenTelemetry SDK reports a problem (spans may be lost)'),
  );
  const report = (message: string) => {
    last = message.slice(0, 500);
    warn();
  };
  diag.setLogger(
    { error: report, warn: report, info: () => {}, debug: () => {}, verbose: () => {} },
    DiagLogLevel.WARN,
  );
}

class OtelCheckTrace implements CheckTrace {
  private readonly span: Span;
  /** The check span as the parent of the spans it starts. */
  private readonly context: Context;
  readonly ids: TraceIds | undefined;

  constructor(
    private readonly tracer: Tracer,
    frontDoor: FrontDoor,
    headers: TraceHeaders,
  ) {
    const caller = readTraceContext(headers);
    const parent = caller ? trace.setSpanContext(ROOT_CONTEXT, caller) : ROOT_CONTEXT;
    const { name, attributes } = CHECK_SPANS[frontDoor];
    this.span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    this.context = trace.setSpan(ROOT_CONTEXT, this.span);
    // Only a span that is exported is worth naming in a log line: another id leads nowhere.
    const { traceId, spanId } = this.span.spanContext();
    this.ids = this.span.isRecording() ? { trace_id: traceId, span_id: spanId } : undefined;
  }

  startCall(endpoint: KratosEndpoint, base: URL, path: string, headers: Record<string, string>): CallSpan {
    const route = ROUTES[endpoint];
    const span = this.tracer.startSpan(
      `GET ${route}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: 'GET',
          // The template, not the path: the semantic conventions' url.template (http.route is a server's).
          'url.template': route,
          [ATTR_URL_FULL]: `${base.origin}${base.pathname.replace(/\/+$/, '')}${path}`,
          [ATTR_SERVER_ADDRESS]: base.hostname,
          [ATTR_SERVER_PORT]: Number(base.port) || (base.protocol === 'https:' ? 443 : 80),
          [ATTR.endpoint]: endpoint,
        },
      },
      this.context,
    );
    // W3C only: what Kratos (ory/x otelx) reads. Written whether or not the span is sampled, so
    // Kratos follows the same decision.
    w3c.inject(trace.setSpan(ROOT_CONTEXT, span), headers, { set: (carrier, key, value) => (carrier[key] = value) });
    return { end: (outcome) => endCall(span, outcome) };
  }

  readonly signing: Signing = async (sign) => {
    const span = this.tracer.startSpan('sign upstream_jwt', { kind: SpanKind.INTERNAL }, this.context);
    try {
      return await sign();
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  };

  end({ decision, facts, cache }: CheckRecord): void {
    const span = this.span;
    // Unsampled: nothing would be kept, so nothing is worked out.
    if (!span.isRecording()) return span.end();
    span.setAttributes({
      [ATTR.rule]: decision.policy,
      [ATTR.decision]: facts.verdict,
      [ATTR.reason]: facts.reason,
      [ATTR.credential]: decision.credential,
      [ATTR.cache]: cache,
      [ATTR.coalesced]: cache === undefined ? undefined : cache === 'coalesced',
      [ATTR.aal]: facts.subject?.aal,
      [ATTR.identityId]: facts.subject?.identityId,
    });
    // A denial is the check working; only a check that could not decide (Kratos down, a fault) is an error.
    if (facts.verdict === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: facts.reason });
    span.end();
  }
}

/**
 * Kratos's 401 and 403 are answers about the session (no session, AAL too low), not failed
 * calls: only a transport failure or a 5xx marks the span as an error.
 */
function endCall(span: Span, outcome: { status: number } | { failure: string }): void {
  if ('failure' in outcome) {
    span.setAttribute(ATTR_ERROR_TYPE, outcome.failure);
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.failure });
  } else {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, outcome.status);
    if (outcome.status >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(outcome.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}
