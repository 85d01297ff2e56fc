// An OTLP/HTTP trace receiver for tests: accepts what the service, Envoy and Kratos export
// (POST /v1/traces, protobuf, gzip or not) and decodes it with the official OpenTelemetry protos
// (the protobufjs code generated from opentelemetry-proto that @opentelemetry/otlp-transformer
// 0.57 shipped, installed as the dev dependency `otlp-protos`). It also keeps every raw body, so
// a test can look for a credential in the bytes exactly as exported, decoded or not.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import root = require('otlp-protos/build/src/generated/root');

export type AttributeValue = string | number | boolean;

export interface ReceivedSpan {
  /** resource service.name of the exporter. */
  service: string;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: number;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

export interface OtlpReceiver {
  /** The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  url: string;
  host: string;
  /** host:port, as Kratos's tracing.providers.otlp.server_url takes it. */
  hostPort: string;
  port: number;
  spans(): readonly ReceivedSpan[];
  /** Every request body as received, before decompression too. */
  rawBodies(): readonly Buffer[];
  close(): Promise<void>;
}

/** The generated static code's message class: decode and toObject as protobufjs generates them. */
interface StaticMessage {
  decode(bytes: Uint8Array): object;
  toObject(
    message: object,
    options: { longs: StringConstructor; enums: NumberConstructor; bytes: StringConstructor },
  ): Record<string, unknown>;
}
interface GeneratedRoot {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: StaticMessage } } } } };
}

const exportRequest = (root as unknown as GeneratedRoot).opentelemetry.proto.collector.trace.v1
  .ExportTraceServiceRequest;

/** `host`: the address the exporters reach this process on (a container stack's bridge gateway). */
export async function startOtlpReceiver(host = '127.0.0.1'): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const raw: Buffer[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      raw.push(body);
      try {
        const bytes = request.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
        if (request.url !== '/v1/traces') throw new Error(`unexpected path ${request.url ?? ''}`);
        spans.push(
          ...spansOf(
            exportRequest.toObject(exportRequest.decode(bytes), { longs: String, enums: Number, bytes: String }),
          ),
        );
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch (error) {
        response
          .writeHead(400, { 'content-type': 'text/plain' })
          .end(error instanceof Error ? error.message : String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${bound}`,
    host,
    hostPort: `${host}:${bound}`,
    port: bound,
    spans: () => spans,
    rawBodies: () => raw,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface KeyValue {
  key: string;
  value?: { stringValue?: string; intValue?: string; doubleValue?: number; boolValue?: boolean };
}

interface DecodedSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number;
  attributes?: KeyValue[];
  status?: { code?: number };
}

interface Decoded {
  resourceSpans?: Array<{ resource?: { attributes?: KeyValue[] }; scopeSpans?: Array<{ spans?: DecodedSpan[] }> }>;
}

function spansOf(decoded: Record<string, unknown>): ReceivedSpan[] {
  return ((decoded as Decoded).resourceSpans ?? []).flatMap((resourceSpans) => {
    const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name'] ?? '');
    return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        service,
        traceId: hex(span.traceId),
        spanId: hex(span.spanId),
        parentSpanId: hex(span.parentSpanId),
        name: span.name ?? '',
        kind: span.kind ?? 0,
        attributes: attributesOf(span.attributes),
        status: span.status?.code ?? 0,
      })),
    );
  });
}

function attributesOf(list: KeyValue[] | undefined): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) {
    const found =
      value?.stringValue ??
      (value?.intValue === undefined ? undefined : Number(value.intValue)) ??
      value?.doubleValue ??
      value?.boolValue;
    if (found !== undefined) attributes[key] = found;
  }
  return attributes;
}

/** protobufjs gives bytes as base64 with `bytes: String`; trace and span ids are read in hex. */
function hex(base64: string | undefined): string {
  return base64 ? Buffer.from(base64, 'base64').toString('hex') : '';
}

/** Waits until `found` picks something from the spans received so far. */
export async function eventuallySpans<T>(
  receiver: OtlpReceiver,
  found: (spans: readonly ReceivedSpan[]) => T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = found(receiver.spans());
    if (result !== undefined) return result;
    if (Date.now() > deadline)
      throw new Error(
        `spans not received within ${timeoutMs}ms; got: ${receiver
          .spans()
          .map((s) => `${s.service}:${s.name}`)
          .join(', ')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
