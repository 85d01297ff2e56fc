// Tracing through the wire: the caller's context in the Check call's metadata (or an HTTP front
// door's headers) is continued, the spans go out over real OTLP/HTTP to a receiver that decodes
// them with the official protos, Kratos (the emulator) gets a traceparent naming the client
// span, and the check's log line names the check span. Off by default: nothing of it then.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { writeSigningKey } from '../support/jwt';
import { AAL1, NAVIGATE, XHR } from '../support/fixtures';
import { startHarness, type Harness, type HarnessOptions } from '../support/harness';
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';

const CHECK_SPAN = 'envoy.service.auth.v3.Authorization/Check';
const W3C = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A caller's span, as Envoy's ext_authz client span is handed over. */
function callerSpan(sampled = true) {
  const traceId = hex(16);
  const spanId = hex(8);
  return {
    traceId,
    spanId,
    metadata: { traceparent: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`, tracestate: '' },
  };
}

/**
 * A harness tracing to a fresh receiver; `body` runs the checks, then the service is shut down
 * (which sends the queued spans) and `inspect` reads what arrived.
 */
async function traced(
  options: HarnessOptions & { tracing?: Record<string, unknown> },
  body: (h: Harness) => Promise<void>,
  inspect: (spans: readonly ReceivedSpan[], h: Harness, receiver: OtlpReceiver) => void,
): Promise<void> {
  const receiver = await startOtlpReceiver();
  try {
    const h = await startHarness({
      ...options,
      config: { ...options.config, tracing: { enabled: true, endpoint: receiver.url, ...options.tracing } },
    });
    try {
      await body(h);
    } finally {
      await h.close();
    }
    inspect(receiver.spans(), h, receiver);
  } finally {
    await receiver.close();
  }
}

function only(spans: readonly ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((span) => span.name === name);
  assert.equal(found.length, 1, `one ${name} span; got ${spans.map((span) => span.name).join(', ')}`);
  return found[0] as ReceivedSpan;
}

function checkLogLine(h: Harness): Record<string, unknown> {
  const line = h.logs.find((entry) => entry.msg === 'check');
  assert.ok(line, 'a check log line');
  return line;
}

describe('tracing: the gRPC door', () => {
  test('continues the caller in the metadata: check span → whoami client span → traceparent to Kratos; attributes; log ids; no credential exported', async () => {
    const caller = callerSpan();
    let cookie = '';
    let token = '';
    await traced(
      {},
      async (h) => {
        const session = h.newSession(h.emulator.addIdentity(), { methods: AAL1 });
        cookie = h.emulator.cookieHeaderFor(session);
        token = session.token;
        await h.client.check({ headers: { ...NAVIGATE, cookie } }, undefined, caller.metadata);
      },
      (spans, h, receiver) => {
        const check = only(spans, CHECK_SPAN);
        assert.equal(check.service, 'kratos-ext-authz');
        assert.equal(check.traceId, caller.traceId);
        assert.equal(check.parentSpanId, caller.spanId);
        assert.equal(check.kind, SPAN_KIND.server);
        assert.deepEqual(
          {
            frontDoor: check.attributes['kratos_ext_authz.front_door'],
            decision: check.attributes['kratos_ext_authz.decision'],
            reason: check.attributes['kratos_ext_authz.reason'],
            credential: check.attributes['kratos_ext_authz.credential'],
            rule: check.attributes['kratos_ext_authz.rule'],
            cache: check.attributes['kratos_ext_authz.cache'],
            coalesced: check.attributes['kratos_ext_authz.coalesced'],
            aal: check.attributes['kratos_ext_authz.aal'],
            rpc: check.attributes['rpc.system'],
          },
          {
            frontDoor: 'grpc',
            decision: 'allow',
            reason: 'ok',
            credential: 'cookie',
            rule: 'default',
            cache: 'miss',
            coalesced: false,
            aal: 'aal1',
            rpc: 'grpc',
          },
        );
        const whoami = only(spans, 'GET /sessions/whoami');
        assert.equal(whoami.kind, SPAN_KIND.client);
        assert.equal(whoami.traceId, caller.traceId);
        assert.equal(whoami.parentSpanId, check.spanId);
        assert.equal(whoami.attributes['http.request.method'], 'GET');
        assert.equal(whoami.attributes['http.response.status_code'], 200);
        assert.equal(whoami.attributes['url.full'], `${h.emulator.publicUrl}/sessions/whoami`);
        // What Kratos was sent names the client span, so Kratos's server span is its child.
        const sent = h.emulator.requests.find((request) => request.endpoint === 'whoami')?.headers.traceparent;
        assert.deepEqual(W3C.exec(String(sent))?.slice(1), [caller.traceId, whoami.spanId, '01']);
        assert.deepEqual(
          { trace_id: checkLogLine(h).trace_id, span_id: checkLogLine(h).span_id },
          { trace_id: caller.traceId, span_id: check.spanId },
        );
        const exported = Buffer.concat(receiver.rawBodies()).toString('latin1');
        for (const credential of [cookie, token, cookie.split('=').slice(1).join('=')])
          assert.ok(!exported.includes(credential), 'no credential in the exported bytes');
      },
    );
  });

  test("B3 from Envoy's Zipkin tracer, multi-header and single-header, is continued too", async () => {
    const multi = { traceId: hex(16), spanId: hex(8) };
    const single = { traceId: hex(16), spanId: hex(8) };
    await traced(
      {},
      async (h) => {
        await h.client.check({ headers: XHR }, undefined, {
          'x-b3-traceid': multi.traceId,
          'x-b3-spanid': multi.spanId,
          'x-b3-parentspanid': hex(8),
          'x-b3-sampled': '1',
        });
        await h.client.check({ headers: XHR }, undefined, { b3: `${single.traceId}-${single.spanId}-1` });
      },
      (spans) => {
        const checks = spans
          .filter((span) => span.name === CHECK_SPAN)
          .map((span) => [span.traceId, span.parentSpanId]);
        assert.deepEqual(
          checks.sort(),
          [
            [multi.traceId, multi.spanId],
            [single.traceId, single.spanId],
          ].sort(),
        );
      },
    );
  });

  test('an unsampled caller is followed: nothing exported, Kratos told 00, no ids in the log', async () => {
    const caller = callerSpan(false);
    await traced(
      {},
      async (h) => {
        const session = h.newSession(h.emulator.addIdentity(), { methods: AAL1 });
        await h.client.check({ headers: { ...XHR, 'x-session-token': session.token } }, undefined, caller.metadata);
      },
      (spans, h) => {
        assert.deepEqual(spans, []);
        const sent = h.emulator.requests.find((request) => request.endpoint === 'whoami')?.headers.traceparent;
        assert.equal(W3C.exec(String(sent))?.[1], caller.traceId);
        assert.equal(W3C.exec(String(sent))?.[3], '00');
        assert.equal(checkLogLine(h).trace_id, undefined);
      },
    );
  });

  test('a check with no caller starts a trace, kept by sampling_ratio: 1 and dropped by 0', async () => {
    await traced(
      { tracing: { sampling_ratio: 1 } },
      (h) => h.client.check({ headers: XHR }).then(() => undefined),
      (spans) => {
        const check = only(spans, CHECK_SPAN);
        assert.equal(check.parentSpanId, '');
        assert.equal(check.attributes['kratos_ext_authz.reason'], 'unauthenticated');
        assert.equal(check.attributes['kratos_ext_authz.cache'], undefined);
      },
    );
    await traced(
      { tracing: { sampling_ratio: 0 } },
      (h) => h.client.check({ headers: XHR }).then(() => undefined),
      (spans) => assert.deepEqual(spans, []),
    );
  });

  test('Kratos unavailable: the check span is an error, the whoami span carries error.type', async () => {
    await traced(
      {},
      async (h) => {
        const session = h.newSession(h.emulator.addIdentity(), { methods: AAL1 });
        h.emulator.fail('whoami', { mode: 'status500' });
        await h.client.check(
          { headers: { ...XHR, 'x-session-token': session.token } },
          undefined,
          callerSpan().metadata,
        );
      },
      (spans) => {
        const check = only(spans, CHECK_SPAN);
        assert.equal(check.status, 2);
        assert.equal(check.attributes['kratos_ext_authz.decision'], 'error');
        const whoami = only(spans, 'GET /sessions/whoami');
        assert.equal(whoami.status, 2);
        assert.equal(whoami.attributes['error.type'], '500');
      },
    );
  });

  test('the admin identity call and the JWT signing are children of the check span', async () => {
    await traced(
      {
        config: {
          upstream_jwt: {
            issuer: 'https://authz.example.com',
            audience: 'orders',
            ttl: '2m',
            keys: [writeSigningKey('ES256')],
          },
        },
      },
      async (h) => {
        const session = h.newSession(h.emulator.addIdentity(), { methods: AAL1 });
        await h.client.check(
          { headers: { ...NAVIGATE, cookie: h.emulator.cookieHeaderFor(session) } },
          undefined,
          callerSpan().metadata,
        );
      },
      (spans, h) => {
        const check = only(spans, CHECK_SPAN);
        const identity = only(spans, 'GET /admin/identities/{id}');
        const signing = only(spans, 'sign upstream_jwt');
        assert.equal(identity.parentSpanId, check.spanId);
        assert.equal(identity.kind, SPAN_KIND.client);
        assert.equal(signing.parentSpanId, check.spanId);
        const sent = h.emulator.requests.find((request) => request.endpoint === 'identity')?.headers.traceparent;
        assert.equal(W3C.exec(String(sent))?.[2], identity.spanId);
      },
    );
  });
});

describe('tracing: the HTTP doors', () => {
  test('forward_auth continues the traceparent of the authorization request', async () => {
    const caller = callerSpan();
    await traced(
      {},
      async (h) => {
        await h.http?.check('forward_auth', { headers: { ...XHR, ...caller.metadata } });
      },
      (spans) => {
        const check = only(spans, 'check forward_auth');
        assert.deepEqual(
          [check.traceId, check.parentSpanId, check.attributes['kratos_ext_authz.front_door']],
          [caller.traceId, caller.spanId, 'forward_auth'],
        );
      },
    );
  });
});

describe('tracing off (the default)', () => {
  test('no traceparent reaches Kratos and the log line has no ids, whatever the caller sent', async () => {
    const h = await startHarness({});
    try {
      const session = h.newSession(h.emulator.addIdentity(), { methods: AAL1 });
      await h.client.check({ headers: { ...XHR, 'x-session-token': session.token } }, undefined, callerSpan().metadata);
      assert.equal(
        h.emulator.requests.find((request) => request.endpoint === 'whoami')?.headers.traceparent,
        undefined,
      );
      assert.equal(checkLogLine(h).trace_id, undefined);
    } finally {
      await h.close();
    }
  });
});
