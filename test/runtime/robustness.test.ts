/** The robustness figures: an outage mid-run, and a cache that stays bounded. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, test } from 'node:test';
import { SessionCache } from '../../src/cache/session-cache';
import { parseConfig } from '../../src/config/load';
import type { SessionSource } from '../../src/kratos/types';
import type { Credential } from '../../src/request/credentials';
import { httpStatusOf } from '../support/envoy-client';
import { startHarness } from '../support/harness';

describe('Kratos down for 5 s in the middle of a 2000-check run', () => {
  test('every check answered; OK only for cached sessions; 503 otherwise; recovery on the first check after', async (t) => {
    const h = await startHarness({ config: { cache: { ttl: '10s' }, kratos: { timeout: '100ms' } } });
    try {
      const identity = h.emulator.addIdentity();
      const warm = Array.from({ length: 20 }, () => h.newSession(identity));
      const cold = Array.from({ length: 1_000 }, () => h.newSession(identity));
      for (const session of warm) assert.equal(httpStatusOf(await h.client.check({ headers: { 'x-session-token': session.token } })), 200);

      const outageStarts = Date.now() + 1_500;
      const outageEnds = outageStarts + 5_000;
      const tally = { warmOk: 0, coldOk: 0, cold503: 0, other: 0, rpcErrors: 0, outageChecks: 0 };
      let outageOn = false;
      // 2000 checks paced over ~8 s, alternating warm and cold sessions, 4 in flight at a time.
      for (let index = 0; index < 2_000; index += 4) {
        const now = Date.now();
        if (!outageOn && now >= outageStarts && now < outageEnds) {
          h.emulator.fail('whoami', { mode: 'reset' });
          outageOn = true;
        } else if (outageOn && now >= outageEnds) {
          h.emulator.clearFaults();
          outageOn = false;
        }
        const duringOutage = outageOn;
        const batch = [0, 1, 2, 3].map(async (offset) => {
          const isWarm = (index + offset) % 2 === 0;
          const session = isWarm ? (warm[(index + offset) % warm.length] as (typeof warm)[number]) : (cold[((index + offset - 1) / 2) % cold.length] as (typeof cold)[number]);
          try {
            const status = httpStatusOf(await h.client.check({ headers: { 'x-session-token': session.token } }));
            if (duringOutage) tally.outageChecks++;
            if (isWarm && status === 200) tally.warmOk++;
            else if (!isWarm && status === 200 && !duringOutage) tally.coldOk++;
            else if (!isWarm && status === 503 && duringOutage) tally.cold503++;
            else tally.other++;
          } catch {
            tally.rpcErrors++;
          }
        });
        await Promise.all(batch);
        await sleep(12);
      }
      assert.equal(tally.rpcErrors, 0);
      assert.equal(tally.other, 0, JSON.stringify(tally));
      assert.equal(tally.warmOk, 1_000, 'cached sessions stay OK through the outage');
      assert.ok(tally.cold503 > 300, `uncached sessions got 503 while Kratos was down (${JSON.stringify(tally)})`);
      assert.equal(tally.coldOk + tally.cold503, 1_000);
      assert.ok(Date.now() > outageEnds, 'the run spanned the whole outage');
      t.diagnostic(`outage run: ${JSON.stringify(tally)}`);

      // Recovery: the very first uncached check after Kratos is back passes.
      h.emulator.clearFaults();
      const fresh = h.newSession(identity);
      assert.equal(httpStatusOf(await h.client.check({ headers: { 'x-session-token': fresh.token } })), 200);
    } finally {
      await h.close();
    }
  });
});

describe('memory stays bounded', () => {
  test('200000 distinct tokens through a cache of 100000 entries', async (t) => {
    const settings = parseConfig({ cache: { max_entries: 100_000, ttl: '60s' } }, {}).cache;
    let calls = 0;
    const upstream: SessionSource = {
      whoami: async () => {
        calls++;
        return { kind: 'active', session: { id: `s${calls}`, identityId: 'i', aal: 'aal1', expiresAt: Date.now() + 3_600_000, methods: [], traits: new Map() } };
      },
    };
    const cache = new SessionCache(upstream, settings);
    const context = { requestId: undefined, deadline: Infinity };
    // Measure live memory, not garbage: expose V8's collector for this measurement only.
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let index = 0; index < 200_000; index++) {
      const credential: Credential = { kind: 'token', source: 'x-session-token', value: `ory_st_${index.toString(36).padStart(32, '0')}`, wellFormed: true };
      await cache.whoami(credential, context);
    }
    assert.equal(calls, 200_000);
    assert.equal(cache.size, 100_000);
    collect();
    const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
    assert.ok(grownMb < 80, `live heap grew by ${grownMb.toFixed(1)} MB for 100000 entries`);
    t.diagnostic(`live heap for 100000 cached sessions: ${grownMb.toFixed(1)} MB`);
    // The oldest are gone, the newest are hits.
    const newest: Credential = { kind: 'token', source: 'x-session-token', value: `ory_st_${(199_999).toString(36).padStart(32, '0')}`, wellFormed: true };
    await cache.whoami(newest, context);
    assert.equal(calls, 200_000);
  });
});
