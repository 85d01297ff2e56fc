// One trace from the client to Kratos, on the real stack: the real Envoy with its OpenTelemetry
// tracer, this service with tracing on and the real Kratos with its own OTLP tracing, all
// exporting to one OTLP/HTTP receiver that decodes with the official protos (test/support/
// otlp-receiver.ts). A browser navigation (cookie) and a token request each make one trace:
// Envoy's request span → Envoy's ext_authz span → the check span → the whoami span → Kratos's
// server span. No credential appears anywhere in what was exported, decoded or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { httpConnectionManager, type JsonObject } from '../../stack/configs';
import {
  SPAN_KIND,
  eventuallySpans,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from '../support/otlp-receiver';
import { API, CookieJar, NAVIGATION, send } from './http';
import { browserPasswordLogin, registerWithPassword } from './kratos';
import { stackFactories } from './plans';
import { withStack } from './run-stack';
import type { Variant } from './stack';

const COLLECTOR_CLUSTER = 'otlp_receiver';

/** Envoy's OpenTelemetry tracer on the listener, every request sampled, spans sent over OTLP/HTTP. */
function envoyTraces(config: JsonObject, receiver: OtlpReceiver): void {
  httpConnectionManager(config).tracing = {
    random_sampling: { value: 100 },
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
        service_name: 'envoy',
        http_service: { http_uri: { uri: `${receiver.url}/v1/traces`, cluster: COLLECTOR_CLUSTER, timeout: '2s' } },
      },
    },
  };
  const resources = config.static_resources as JsonObject;
  (resources.clusters as JsonObject[]).push({
    name: COLLECTOR_CLUSTER,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: COLLECTOR_CLUSTER,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: receiver.host, port_value: receiver.port } } } },
          ],
        },
      ],
    },
  });
}

function tracingEverywhere(receiver: OtlpReceiver): Variant {
  return {
    name: 'tracing on in Envoy (OpenTelemetry), kratos-ext-authz and Kratos (OTLP), one receiver',
    adjustEnvoy: (config) => envoyTraces(config, receiver),
    serviceOverrides: { tracing: { enabled: true, endpoint: receiver.url } },
    // Kratos's own tracing (ory/x otelx, the same keys in v1.3.1 and v26.2.0): parent-based.
    kratosOverrides: {
      tracing: {
        provider: 'otel',
        service_name: 'kratos',
        providers: { otlp: { server_url: receiver.hostPort, insecure: true, sampling: { sampling_ratio: 1 } } },
      },
    },
  };
}

interface Chain {
  envoyRequest: ReceivedSpan;
  envoyAuthz: ReceivedSpan;
  check: ReceivedSpan;
  whoami: ReceivedSpan;
  kratos: ReceivedSpan;
}

/** The whole chain of the check that used `credential`, once every link has arrived. */
function chainOf(spans: readonly ReceivedSpan[], credential: 'cookie' | 'token'): Chain | undefined {
  const check = spans.find(
    (span) =>
      span.service === 'kratos-ext-authz' &&
      span.kind === SPAN_KIND.server &&
      span.attributes['kratos_ext_authz.credential'] === credential,
  );
  if (!check) return undefined;
  const inTrace = spans.filter((span) => span.traceId === check.traceId);
  const byId = (id: string) => inTrace.find((span) => span.spanId === id);
  const envoyAuthz = byId(check.parentSpanId);
  const envoyRequest = envoyAuthz && byId(envoyAuthz.parentSpanId);
  const whoami = inTrace.find((span) => span.parentSpanId === check.spanId && span.name === 'GET /sessions/whoami');
  const kratos = whoami && inTrace.find((span) => span.parentSpanId === whoami.spanId && span.service === 'kratos');
  return envoyAuthz && envoyRequest && whoami && kratos
    ? { envoyRequest, envoyAuthz, check, whoami, kratos }
    : undefined;
}

function assertChain(chain: Chain, credential: 'cookie' | 'token'): void {
  const { envoyRequest, envoyAuthz, check, whoami, kratos } = chain;
  assert.deepEqual(
    [envoyRequest.service, envoyRequest.kind, envoyRequest.parentSpanId],
    ['envoy', SPAN_KIND.server, ''],
    "the trace starts at Envoy's request span",
  );
  assert.deepEqual(
    [envoyAuthz.service, envoyAuthz.kind],
    ['envoy', SPAN_KIND.client],
    `Envoy's ext_authz span (${envoyAuthz.name})`,
  );
  assert.deepEqual(
    [
      check.name,
      check.attributes['kratos_ext_authz.front_door'],
      check.attributes['kratos_ext_authz.decision'],
      check.attributes['kratos_ext_authz.reason'],
      check.attributes['kratos_ext_authz.credential'],
      check.attributes['kratos_ext_authz.aal'],
    ],
    ['envoy.service.auth.v3.Authorization/Check', 'grpc', 'allow', 'ok', credential, 'aal1'],
  );
  assert.ok(['miss', 'hit', 'coalesced', 'stale'].includes(String(check.attributes['kratos_ext_authz.cache'])));
  assert.equal(typeof check.attributes['kratos_ext_authz.coalesced'], 'boolean');
  assert.deepEqual(
    [whoami.service, whoami.kind, whoami.attributes['http.response.status_code']],
    ['kratos-ext-authz', SPAN_KIND.client, 200],
  );
  assert.deepEqual(
    [kratos.service, kratos.kind],
    ['kratos', SPAN_KIND.server],
    `Kratos's server span (${kratos.name})`,
  );
}

test(
  'tracing: one trace through the real Envoy, kratos-ext-authz and the real Kratos, no credential exported',
  { timeout: 10 * 60_000 },
  async (t) => {
    for (const factory of await stackFactories(t)) {
      for (const envoy of factory.envoyVersions) {
        const receiver = await startOtlpReceiver(factory.hostAddress);
        const plan = factory.plan(envoy, tracingEverywhere(receiver));
        try {
          await t.test(plan.description, () =>
            withStack(plan, async (stack) => {
              const email = `e2e-${randomUUID()}@example.com`;
              const password = `E2e-${randomUUID()}`;
              const user = await registerWithPassword(stack.baseUrl, email, password);
              const jar = new CookieJar();
              assert.equal(await browserPasswordLogin(stack.baseUrl, jar, email, password), 'aal1');
              const cookie = jar.header();

              const navigation = await send(`${stack.baseUrl}/app/traced`, { headers: NAVIGATION, jar });
              assert.equal(navigation.status, 200, 'the browser navigation is allowed');
              const api = await send(`${stack.baseUrl}/app/traced`, {
                headers: { ...API, 'x-session-token': user.token },
              });
              assert.equal(api.status, 200, 'the token request is allowed');

              // Each exporter sends in batches (Envoy, the SDKs: every 5 s): wait for every link.
              const browser = await eventuallySpans(receiver, (spans) => chainOf(spans, 'cookie'), 60_000);
              const token = await eventuallySpans(receiver, (spans) => chainOf(spans, 'token'), 60_000);
              assertChain(browser, 'cookie');
              assertChain(token, 'token');
              assert.notEqual(browser.check.traceId, token.check.traceId, 'two requests, two traces');
              // The cookie session of an identity without a second factor: its available AAL was asked too.
              const browserTrace = receiver.spans().filter((span) => span.traceId === browser.check.traceId);
              // The shape of what the real binaries sent, for whoever reads the test log.
              process.stderr.write(
                `browser trace: ${browserTrace.map((span) => `${span.service}: ${span.name}`).join(' | ')}\n`,
              );
              const identity = browserTrace.find(
                (span) => span.service === 'kratos-ext-authz' && span.name === 'GET /admin/identities/{id}',
              );
              assert.equal(
                identity?.parentSpanId,
                browser.check.spanId,
                'the admin identity call is a child of the check',
              );
              assert.ok(
                browserTrace.some(
                  (span) =>
                    span.service === 'kratos' &&
                    span.kind === SPAN_KIND.server &&
                    span.parentSpanId === identity.spanId,
                ),
                "Kratos's admin API server span is a child of the identity call",
              );

              const exported = Buffer.concat(receiver.rawBodies()).toString('latin1');
              const sessionCookie =
                cookie
                  .split('; ')
                  .find((pair) => pair.startsWith('ory_kratos_session='))
                  ?.slice('ory_kratos_session='.length) ?? '';
              assert.ok(sessionCookie.length > 20 && user.token.length > 20, 'the credentials to look for');
              assert.ok(!exported.includes(sessionCookie), 'the session cookie is nowhere in the exported spans');
              assert.ok(!exported.includes(user.token), 'the session token is nowhere in the exported spans');
              return true;
            }),
          );
        } finally {
          await receiver.close();
        }
      }
    }
  },
);
