/** gRPC health, the HTTP port (/healthz, /readyz, /metrics) and the log lines, on a running service. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHarness, type Harness } from '../support/harness';
import { healthStatus } from '../support/health-client';

let h: Harness;
before(async () => {
  h = await startHarness({ config: { cache: { ttl: '10s' } } });
});
after(() => h.close());

const http = (path: string) => fetch(`http://127.0.0.1:${h.service.httpPort}${path}`);

async function waitFor(condition: () => Promise<boolean>, ms = 3_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('gRPC health', () => {
  test('"" and envoy.service.auth.v3.Authorization are SERVING', async () => {
    assert.equal(await healthStatus(h.service.grpcPort, ''), 'SERVING');
    assert.equal(await healthStatus(h.service.grpcPort, 'envoy.service.auth.v3.Authorization'), 'SERVING');
  });

  test('an unknown service name is NOT_FOUND, as the health protocol requires', async () => {
    await assert.rejects(healthStatus(h.service.grpcPort, 'nope'), /NOT_FOUND/);
  });
});

describe('HTTP port', () => {
  test('/healthz answers 200', async () => {
    const response = await http('/healthz');
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'ok\n');
  });

  test('/readyz is 200 while Kratos answers /health/ready, 503 with the reason when it stops', async () => {
    await waitFor(async () => (await http('/readyz')).status === 200);
    h.emulator.fail('health', { mode: 'status500' });
    try {
      // Readiness tolerates a few seconds of silence before declaring Kratos gone.
      await waitFor(async () => (await http('/readyz')).status === 503, 9_000);
      assert.match(await (await http('/readyz')).text(), /^not ready: Kratos \/health\/ready answered 500/);
    } finally {
      h.emulator.clearFaults();
    }
    await waitFor(async () => (await http('/readyz')).status === 200, 4_000);
  });

  test('unknown paths are 404 and other methods 405', async () => {
    assert.equal((await http('/nope')).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${h.service.httpPort}/healthz`, { method: 'POST' })).status, 405);
  });
});

describe('/metrics', () => {
  test('counts checks by decision, credential and reason, with durations, Kratos calls and cache results', async () => {
    const session = h.newSession(h.emulator.addIdentity());
    await h.client.check({ headers: { 'x-session-token': session.token } });
    await h.client.check({ headers: { 'x-session-token': session.token } });
    await h.client.check({ headers: { 'sec-fetch-mode': 'cors' } });
    const text = await (await http('/metrics')).text();
    assert.match(
      text,
      /^kratos_ext_authz_checks_total\{front_door="grpc",decision="allow",credential="token",reason="ok"\} 2$/m,
    );
    assert.match(
      text,
      /^kratos_ext_authz_checks_total\{front_door="grpc",decision="deny",credential="none",reason="unauthenticated"\} 1$/m,
    );
    assert.match(text, /^kratos_ext_authz_check_duration_seconds_bucket\{le="0.0001",front_door="grpc"\} \d+$/m);
    assert.match(text, /^kratos_ext_authz_check_duration_seconds_count\{front_door="grpc"\} 3$/m);
    assert.match(text, /^kratos_ext_authz_kratos_requests_total\{endpoint="whoami",status="200"\} 1$/m);
    assert.match(text, /^kratos_ext_authz_kratos_request_duration_seconds_count\{endpoint="whoami"\} 1$/m);
    assert.match(text, /^kratos_ext_authz_cache_requests_total\{cache="session",result="hit"\} 1$/m);
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });
});

describe('logs', () => {
  test('one line per denial at info with the request facts; allows at debug; no query string', async () => {
    const session = h.newSession(h.emulator.addIdentity());
    await h.client.check({
      path: '/orders?secret=hunter2',
      headers: {
        'x-request-id': 'req-log-1',
        cookie: `${h.emulator.cookieHeaderFor(session)}`,
        'sec-fetch-mode': 'cors',
      },
    });
    await h.client.check({
      method: 'POST',
      path: '/pay?card=4111',
      host: 'shop.example.com',
      headers: {
        'x-request-id': 'req-log-2',
        authorization: `Bearer ${h.remember('ory_st_notvalidnotvalidnotvalid0000')}`,
      },
    });
    const allow = h.logs.find((line) => line.request_id === 'req-log-1');
    const deny = h.logs.find((line) => line.request_id === 'req-log-2');
    assert.deepEqual(
      {
        level: allow?.level,
        decision: allow?.decision,
        reason: allow?.reason,
        path: allow?.path,
        credential: allow?.credential,
        identity_id: allow?.identity_id,
        aal: allow?.aal,
      },
      {
        level: 20,
        decision: 'allow',
        reason: 'ok',
        path: '/orders',
        credential: 'cookie',
        identity_id: session.identityId,
        aal: 'aal1',
      },
    );
    assert.deepEqual(
      {
        level: deny?.level,
        decision: deny?.decision,
        reason: deny?.reason,
        method: deny?.method,
        host: deny?.host,
        path: deny?.path,
        credential: deny?.credential,
      },
      {
        level: 30,
        decision: 'deny',
        reason: 'unauthenticated',
        method: 'POST',
        host: 'shop.example.com',
        path: '/pay',
        credential: 'token',
      },
    );
    assert.equal(typeof deny?.duration_ms, 'number');
    assert.doesNotMatch(h.rawLogs(), /hunter2|4111|ory_st_|ory_kratos_session=/);
  });

  test('Kratos failures log at warn with a credential-free detail', async () => {
    h.emulator.fail('whoami', { mode: 'status500', count: 1 });
    await h.client.check({
      headers: { 'x-session-token': h.remember('ory_st_forthewarnlineforthewarnline'), 'x-request-id': 'req-log-3' },
    });
    const line = h.logs.find((candidate) => candidate.request_id === 'req-log-3');
    assert.equal(line?.level, 40);
    assert.equal(line?.detail, 'whoami answered 500');
  });
});
