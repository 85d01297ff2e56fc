/**
 * max_age against whoami bodies the emulator never gives (a real Kratos always sends
 * authenticated_at): run through the service's own check with Kratos answering from facts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load';
import { kratosFromFacts } from '../../../src/cli/session-facts';
import { traceRequest, type Trace } from '../../../src/cli/trace';

const config = parseConfig({ policy: { cookie: { aal: 'aal1', max_age: '5m' }, token: 'aal1' } }, {});

async function traced(
  authenticatedAt: unknown,
  headers: Array<[string, string]> = [['sec-fetch-mode', 'cors']],
): Promise<Trace> {
  const whoami = {
    id: 's',
    active: true,
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    authenticated_at: authenticatedAt,
    authenticator_assurance_level: 'aal1',
    identity: { id: 'i' },
  };
  const kratos = kratosFromFacts({ kratos: 'up', whoami, availableAal: 'aal1', whoamiEnforcesHighestAvailable: false });
  const trace = await traceRequest(
    config,
    {
      method: 'GET',
      url: 'https://app.example.com/x',
      headers: [...headers, ['cookie', 'ory_kratos_session=stand-in']],
      contextExtensions: {},
    },
    kratos,
  );
  assert.ok(!('problem' in trace));
  return trace;
}

describe('max_age: authenticated_at as whoami gives it', () => {
  test('missing, not a string, or not a time: 503, never an allow', async () => {
    for (const value of [undefined, 12345, 'yesterday']) {
      const trace = await traced(value);
      assert.equal(trace.outcome, '503', String(value));
      assert.equal(trace.decision.kind, 'kratos_unavailable');
    }
  });

  test('RFC 3339 with nanoseconds, as Kratos writes it, 4 minutes ago: allowed', async () => {
    const at = new Date(Date.now() - 4 * 60_000).toISOString().replace('Z', '123456Z');
    assert.equal((await traced(at)).outcome, 'allow');
  });

  test('a little in the future (clock skew) counts as just now: allowed', async () => {
    assert.equal((await traced(new Date(Date.now() + 2_000).toISOString())).outcome, 'allow');
  });

  test('6 minutes ago: redirect_refresh for a navigation, 403_refresh for XHR, and the decision says by how much', async () => {
    const at = new Date(Date.now() - 6 * 60_000).toISOString();
    const navigation = await traced(at, [['sec-fetch-mode', 'navigate']]);
    assert.equal(navigation.outcome, 'redirect_refresh');
    const xhr = await traced(at);
    assert.equal(xhr.outcome, '403_refresh');
    assert.ok(xhr.decision.kind === 'refresh_required');
    assert.equal(xhr.decision.maxAge, 300_000);
    assert.ok(xhr.decision.age >= 360_000 && xhr.decision.age < 370_000, String(xhr.decision.age));
    assert.equal(xhr.decision.stepUp, false);
  });
});
