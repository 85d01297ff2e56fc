// gRPC-port abuse straight at the service while the real Envoy keeps sending it live traffic:
// thousands of concurrent streams, oversized messages, a client that never reads, a burst of
// new connections. The service's RSS must stay bounded and Envoy's checks keep their answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXT_AUTHZ, startLocalStack } from '../../stack/local-stack';
import { processStacksOrSkip } from '../e2e/plans';
import { logTails } from '../e2e/stack';
import { connectionBurst, concurrentStreams, neverReads, oversizedMessages, RssSampler, rssMiB } from './grpc-abuse';
import { countByKind, formatCounts, Load, roundRobin } from './load';
import { VERIFIABLE, credentialMix } from './sessions';

const RATE = 200;
const STREAMS = 2_000;
const OVERSIZED = 4;
const CONNECTIONS = 300;
const NEVER_READ_STREAMS = 1_000;
// What a container limit for the service could be: a baseline near 100 MiB plus the messages
// grpc-js must hold whole (4 x 9 MiB and one refused 65 MiB message, each copied while decoded).
const RSS_BOUND_MIB = 768;

test('gRPC-port abuse: RSS bounded, the real Envoy keeps getting answers', { timeout: 240_000 }, async (t) => {
  const chosen = await processStacksOrSkip(t, 'the service is a local process whose memory the test reads');
  if (!chosen) return;
  const [envoy] = chosen.envoy;
  assert.ok(envoy);
  const stack = await startLocalStack({ envoy, kratos: chosen.kratos, serviceOverrides: { log: { level: 'warn' } } });
  let passed = false;
  try {
    const pid = stack.children.pid(EXT_AUTHZ);
    assert.ok(pid !== undefined);
    const port = stack.ports.extAuthzGrpc;
    const { all } = await credentialMix(stack.baseUrl, stack.kratosAdminUrl, 1, 0);
    const before = rssMiB(pid);
    const sampler = new RssSampler(pid);
    const load = new Load({ baseUrl: stack.baseUrl, ratePerSecond: RATE, durationMs: 120_000, credential: roundRobin(all) });
    const running = load.run();
    let tried: string[];
    try {
      const streams = await concurrentStreams(port, STREAMS);
      const oversized = await oversizedMessages(port, OVERSIZED, 9, 65);
      const [held, burst] = await Promise.all([neverReads(port, NEVER_READ_STREAMS, 3_000), connectionBurst(port, CONNECTIONS)]);
      tried = [
        `${streams}/${STREAMS} concurrent streams answered`,
        `${OVERSIZED} x 9 MiB answered ${oversized.denied.join(',')}`,
        `65 MiB refused with gRPC code ${oversized.refused.join(',')}`,
        `${held} streams held by a client that never reads`,
        `${burst}/${CONNECTIONS} new connections answered`,
      ];
      assert.equal(streams, STREAMS);
      assert.deepEqual(oversized.denied, Array<number>(OVERSIZED).fill(413));
      assert.deepEqual(oversized.refused, [8], 'over grpc-js max_receive_message_length: RESOURCE_EXHAUSTED');
      assert.equal(burst, CONNECTIONS);
    } finally {
      load.stop();
    }
    const result = await running;
    const peak = sampler.stop();
    // Let the collector return what the abuse left, then read where the process settled.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const settled = rssMiB(pid);
    const unexpected = result.answers.filter((a) => a.status !== (a.kind === VERIFIABLE ? 200 : 401));
    process.stderr.write(
      `chaos: abuse: ${tried.join('; ')}\n` +
        `chaos: abuse: service RSS ${before} MiB before, ${peak} MiB peak, ${settled} MiB 3 s after\n` +
        `chaos: abuse: through Envoy meanwhile ${result.answers.length} requests: ${formatCounts(countByKind(result.answers))}\n`,
    );
    assert.ok(peak < RSS_BOUND_MIB, `RSS peaked at ${peak} MiB`);
    assert.equal(result.shed, 0);
    assert.deepEqual(unexpected.map((a) => `${a.kind} ${a.status}`), [], 'Envoy kept getting its answers');
    assert.ok(stack.children.isRunning(EXT_AUTHZ));
    passed = true;
  } finally {
    if (!passed) process.stderr.write(`${logTails(stack.children.logs)}\n`);
    await stack.stop();
  }
});
