import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { negativeCapacity, SessionCache } from '../../../src/cache/session-cache';
import { parseConfig } from '../../../src/config/load';
import type { SessionSource, SessionAnswer } from '../../../src/kratos/sources';
import type { Credential } from '../../../src/request/credentials';

const CONTEXT = { requestId: undefined, deadline: Infinity };
const HOUR = 3_600_000;

function token(value: string): Credential {
  return { kind: 'token', source: 'x-session-token', value, wellFormed: true };
}

/** Answers each whoami with the next scripted outcome for that credential value. */
function scripted(script: Record<string, SessionAnswer[]>): SessionSource & { calls: number } {
  const source = {
    calls: 0,
    whoami: async (credential: Credential): Promise<SessionAnswer> => {
      source.calls++;
      const next = script[credential.value]?.shift();
      if (!next) throw new Error(`no scripted answer left for ${credential.value}`);
      return next;
    },
  };
  return source;
}

function active(id: string, now: number): SessionAnswer {
  return {
    kind: 'active',
    session: { id, identityId: 'i', aal: 'aal1', expiresAt: now + HOUR, methods: [], traits: new Map() },
  };
}

describe('SessionCache', () => {
  test('an unauthenticated answer (a 401, or an inactive or expired 200) drops the positive entry even with negative_ttl 0s', async () => {
    let now = 1_000_000;
    const settings = parseConfig({ cache: { ttl: '1s', negative_ttl: '0s', stale_if_error: '30s' } }, {}).cache;
    const upstream = scripted({
      a: [active('s', now), { kind: 'unauthenticated' }, { kind: 'unavailable', detail: 'down' }],
    });
    const cache = new SessionCache(upstream, settings, undefined, () => now);
    assert.equal((await cache.whoami(token('a'), CONTEXT)).kind, 'active');
    now += 1_500;
    assert.equal((await cache.whoami(token('a'), CONTEXT)).kind, 'unauthenticated');
    assert.equal(cache.size, 0);
    const failing = await cache.whoami(token('a'), CONTEXT);
    assert.equal(failing.kind, 'unavailable', 'no stale stand-in for a session Kratos has ended');
  });

  test('401s are bounded apart from sessions, by a tenth of max_entries (at least 1000, at most max_entries)', async () => {
    assert.equal(negativeCapacity(100_000), 10_000);
    assert.equal(negativeCapacity(5_000), 1_000);
    assert.equal(negativeCapacity(50), 50);

    const now = 1_000_000;
    const settings = parseConfig({ cache: { ttl: '10s', negative_ttl: '10s', max_entries: 2_000 } }, {}).cache;
    const junk = Object.fromEntries(
      Array.from({ length: 2_500 }, (_, index) => [`junk${index}`, [{ kind: 'unauthenticated' } as const]]),
    );
    const upstream = scripted({ valid: [active('s', now)], ...junk });
    const cache = new SessionCache(upstream, settings, undefined, () => now);
    await cache.whoami(token('valid'), CONTEXT);
    for (const value of Object.keys(junk)) await cache.whoami(token(value), CONTEXT);
    assert.equal(cache.size, 1 + 1_000, 'the session and the newest 1000 401s');
    const again = await cache.whoami(token('valid'), CONTEXT);
    assert.equal(again.kind === 'active' && again.cached, true);
    assert.equal(upstream.calls, 1 + 2_500);
  });
});
