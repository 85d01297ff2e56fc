// Two replicas behind the real Envoy under load: one SIGKILLed (the checks it held fail closed
// with status_on_error and none reaches the upstream; the survivor takes the traffic), then a
// rolling restart with SIGTERM and server.drain_delay, which must fail no request at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalStack, type LocalStack } from '../../stack/local-stack';
import { freePorts } from '../../stack/ports';
import { processStacksOrSkip } from '../e2e/plans';
import { logTails } from '../e2e/stack';
import { counter, envoyCounters, EXT_AUTHZ_STATS, UPSTREAM_STATS } from './envoy-stats';
import { countByKind, formatCounts, Load, roundRobin, type Answer, type Credential } from './load';
import {
  REPLICA_A,
  REPLICA_B,
  REPLICA_OVERRIDES,
  restartReplica,
  startReplicaB,
  twoReplicaCluster,
  untilEnvoyCallsHealthy,
  type ReplicaPorts,
} from './replicas';
import { credentialMix, VERIFIABLE } from './sessions';

const RATE = 500;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
// Envoy ejects a replica on its first failed call and its health checks run every second: after
// this long every check must go to the survivor.
const TAKEOVER_MS = 2_000;

interface Counted {
  answers: Answer[];
  extAuthzError: number;
  failureModeAllowed: number;
  upstream: number;
}

/** Runs `during` under load and counts what the client and Envoy saw meanwhile. */
async function underLoad(stack: LocalStack, credentials: Credential[], during: () => Promise<void>): Promise<Counted> {
  const stats = async (): Promise<Map<string, number>> =>
    new Map([
      ...(await envoyCounters(stack.envoyAdminUrl, EXT_AUTHZ_STATS)),
      ...(await envoyCounters(stack.envoyAdminUrl, UPSTREAM_STATS)),
    ]);
  const before = await stats();
  const load = new Load({
    baseUrl: stack.baseUrl,
    ratePerSecond: RATE,
    durationMs: 90_000,
    credential: roundRobin(credentials),
  });
  const running = load.run();
  try {
    await during();
  } finally {
    load.stop();
  }
  const result = await running;
  assert.equal(result.shed, 0, 'the generator kept its rate');
  const after = await stats();
  const delta = (name: string): number => counter(after, name) - counter(before, name);
  return {
    answers: result.answers,
    extAuthzError: delta(`${EXT_AUTHZ_STATS}error`),
    failureModeAllowed: delta(`${EXT_AUTHZ_STATS}failure_mode_allowed`),
    upstream: delta(UPSTREAM_STATS),
  };
}

const failed = (a: Answer): boolean => a.status === 503 || a.status === 0;
const expected = (a: Answer): boolean => (a.kind === VERIFIABLE ? a.status === 200 : a.status === 401);

function report(what: string, counted: Counted): void {
  process.stderr.write(
    `chaos: ${what}: ${counted.answers.length} requests; ${formatCounts(countByKind(counted.answers))}; ` +
      `envoy ext_authz error ${counted.extAuthzError}, failure_mode_allowed ${counted.failureModeAllowed}; upstream requests ${counted.upstream}\n`,
  );
}

function assertFailClosed(counted: Counted): void {
  assert.deepEqual(
    counted.answers.filter((a) => a.kind !== VERIFIABLE && a.status === 200),
    [],
    'a revoked or unknown session was allowed',
  );
  assert.equal(counted.failureModeAllowed, 0);
  assert.equal(
    counted.upstream,
    counted.answers.filter((a) => a.status === 200).length,
    'the upstream saw exactly the allowed requests',
  );
}

test(
  'two replicas behind the real Envoy: SIGKILL fails closed and the survivor takes over; a rolling restart fails nothing',
  { timeout: 240_000 },
  async (t) => {
    const chosen = await processStacksOrSkip(t, 'replicas are local processes signalled by the test');
    if (!chosen) return;
    const [envoy] = chosen.envoy;
    assert.ok(envoy);
    const [grpcB, httpB] = await freePorts(2);
    assert.ok(grpcB !== undefined && httpB !== undefined);
    const b: ReplicaPorts = { grpc: grpcB, http: httpB };
    const stack = await startLocalStack({
      envoy,
      kratos: chosen.kratos,
      adjustEnvoy: twoReplicaCluster(b),
      serviceOverrides: REPLICA_OVERRIDES,
    });
    let passed = false;
    try {
      const a: ReplicaPorts = { grpc: stack.ports.extAuthzGrpc, http: stack.ports.extAuthzHttp };
      startReplicaB(stack, b);
      await bothInService(stack, a, b);
      const { all } = await credentialMix(stack.baseUrl, stack.kratosAdminUrl, 2, 0);

      let killedAt = 0;
      const crash = await underLoad(stack, all, async () => {
        await sleep(3_000);
        killedAt = Date.now();
        await stack.children.stop(REPLICA_A, 0, 'SIGKILL');
        await sleep(TAKEOVER_MS + 4_000);
      });
      report('SIGKILL of one replica', crash);
      const crashFailures = crash.answers.filter(failed);
      const afterTakeover = crash.answers.filter((x) => x.sentAt >= killedAt + TAKEOVER_MS);
      process.stderr.write(
        `chaos: SIGKILL: ${crashFailures.length} failed (503, fail closed), ${crash.answers.filter((x) => x.kind !== VERIFIABLE && x.status === 200).length} allowed by the failure; after ${TAKEOVER_MS}ms the survivor answered ${afterTakeover.filter(expected).length} of ${afterTakeover.length} as expected\n`,
      );
      assertFailClosed(crash);
      assert.ok(
        crashFailures.every((x) => x.status === 503 && x.doneAt >= killedAt),
        'only checks caught by the crash failed, with status_on_error',
      );
      assert.equal(crash.extAuthzError, crashFailures.length, 'each failure is an RPC that died with the replica');
      assert.deepEqual(
        afterTakeover.filter((x) => !expected(x)).map((x) => `${x.kind} ${x.status}`),
        [],
        'the survivor answers everything',
      );
      assert.ok(afterTakeover.length >= RATE * 3, 'the survivor took real traffic');

      await restartReplica(stack, REPLICA_A, a);
      const rolling = await underLoad(stack, all, async () => {
        await sleep(1_000);
        for (const [name, ports] of [
          [REPLICA_A, a],
          [REPLICA_B, b],
        ] as const) {
          const exit = await stack.children.stop(name, 15_000);
          assert.equal(exit.code, 0, `${name} drained and exited cleanly`);
          await restartReplica(stack, name, ports);
        }
        await sleep(1_000);
      });
      report('rolling restart (SIGTERM, drain_delay)', rolling);
      const rollingFailures = rolling.answers.filter(failed);
      process.stderr.write(
        `chaos: rolling restart: ${rolling.answers.length} requests, ${rollingFailures.length} failed\n`,
      );
      assertFailClosed(rolling);
      assert.equal(rollingFailures.length, 0, 'a rolling restart fails no request');
      assert.deepEqual(
        rolling.answers.filter((x) => !expected(x)).map((x) => `${x.kind} ${x.status}`),
        [],
      );
      assert.equal(rolling.extAuthzError, 0);
      passed = true;
    } finally {
      if (!passed) process.stderr.write(`${logTails(stack.children.logs)}\n`);
      await stack.stop();
    }
  },
);

/** Both replicas in service, as Envoy's health checks see them. */
async function bothInService(stack: LocalStack, a: ReplicaPorts, b: ReplicaPorts): Promise<void> {
  await untilEnvoyCallsHealthy(stack, a.grpc);
  await untilEnvoyCallsHealthy(stack, b.grpc);
}
