/** Kratos failing in every way a network can fail: every check still gets an answer, never OK. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deniedHeader, httpStatusOf, metadataOf } from '../support/envoy-client';
import { startHarness, type Harness } from '../support/harness';
import type { CreatedSession } from '../support/kratos-emulator';
import { NAVIGATE, TOTP } from '../support/fixtures';

let h: Harness;
let session: CreatedSession;
let twoFactor: CreatedSession;
before(async () => {
  h = await startHarness({ config: { kratos: { timeout: '100ms' } } });
  session = h.newSession(h.emulator.addIdentity());
  twoFactor = h.newSession(h.emulator.addIdentity({ credentials: TOTP }), {
    methods: [{ method: 'password', aal: 'aal1' }],
  });
});
after(() => h.close());

async function assertUnavailable(headers: Record<string, string>, deadlineMs?: number): Promise<void> {
  const response = await h.client.check({ headers }, deadlineMs);
  assert.equal(httpStatusOf(response), 503);
  assert.equal(response.status?.code, 14);
  assert.equal(deniedHeader(response, 'retry-after'), '1');
  assert.equal(metadataOf(response).reason, 'kratos_unavailable');
}

describe('whoami faults → 503', () => {
  for (const mode of ['status500', 'garbage', 'reset', 'hang'] as const) {
    test(mode, async () => {
      h.emulator.fail('whoami', { mode, count: 1 });
      await assertUnavailable({ 'x-session-token': session.token });
      assert.equal(
        httpStatusOf(await h.client.check({ headers: { 'x-session-token': session.token } })),
        200,
        'recovers on the next check',
      );
    });
  }

  test('slower than kratos.timeout', async () => {
    h.emulator.setLatency('whoami', 300);
    try {
      const started = Date.now();
      await assertUnavailable({ 'x-session-token': session.token });
      assert.ok(Date.now() - started < 280, 'answered at the timeout, not when Kratos finally answered');
    } finally {
      h.emulator.setLatency('whoami', 0);
    }
  });

  test('a Check deadline shorter than kratos.timeout: the Kratos call is cut to fit and a 503 arrives in time', async () => {
    const slowKratos = await startHarness({ config: { kratos: { timeout: '5s' } } });
    try {
      const patient = slowKratos.newSession(slowKratos.emulator.addIdentity());
      slowKratos.emulator.fail('whoami', { mode: 'hang', count: 1 });
      const started = Date.now();
      // 1 s: the answer margin (a tenth of it) must outlast the event-loop lag of a loaded CI machine.
      const response = await slowKratos.client.check({ headers: { 'x-session-token': patient.token } }, 1_000);
      assert.equal(httpStatusOf(response), 503, 'a denial, not DEADLINE_EXCEEDED');
      assert.ok(Date.now() - started < 2_500, 'the 5 s Kratos timeout was cut to the 1 s deadline');
      assert.match(
        String(slowKratos.logs.find((line) => line.reason === 'kratos_unavailable')?.detail),
        /^whoami timeout after \d+ms$/,
      );
    } finally {
      await slowKratos.close();
    }
  });

  test('connection refused', async () => {
    const broken = await startHarness({ config: { kratos: { public_url: 'http://127.0.0.1:1' } } });
    try {
      const response = await broken.client.check({
        headers: { 'x-session-token': broken.remember('ory_st_whateverwhateverwhatever0') },
      });
      assert.equal(httpStatusOf(response), 503);
    } finally {
      await broken.close();
    }
  });
});

describe('admin API faults → 503 for highest_available cookies', () => {
  for (const mode of ['status500', 'garbage', 'hang'] as const) {
    test(mode, async () => {
      h.emulator.fail('identity', { mode, count: 1 });
      await assertUnavailable({ ...NAVIGATE, cookie: h.emulator.cookieHeaderFor(twoFactor) });
    });
  }

  test('a token needing only aal1 never calls the admin API', async () => {
    h.emulator.fail('identity', { mode: 'status500' });
    try {
      assert.equal(httpStatusOf(await h.client.check({ headers: { 'x-session-token': twoFactor.token } })), 200);
    } finally {
      h.emulator.clearFaults();
    }
  });
});

describe('the gRPC call itself', () => {
  test('no RPC ever fails: 50 concurrent checks against a hanging Kratos all get a denial', async () => {
    h.emulator.fail('whoami', { mode: 'hang', count: 50 });
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => h.client.check({ headers: { 'x-session-token': session.token } })),
    );
    assert.deepEqual(new Set(responses.map(httpStatusOf)), new Set([503]));
  });
});
