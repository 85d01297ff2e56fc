/** One measured run against one server, bracketed by the counters that prove what it measured. */
import { join } from 'node:path';
import { collectGarbage, takeDriverStallMs } from './gc';
import { grpcCheckTarget, runH2load, type H2loadResult, type H2loadRun } from './h2load';
import type { KratosProcess } from './kratos-process';
import { runLoad, type LoadPlan, type LoadResult } from './h2-client';
import { cpuTimeMs, type ServerProcess } from './processes';
import { counterDeltas, scrapeMetrics, type Samples } from './prometheus';
import { CHECKS, checkDecisions, checkFloorAnswers, sessionCacheCounts, type CacheCounts } from './verify';

/** Envoy's default ext_authz timeout, sent as grpc-timeout: an answer later than this is an error to Envoy. */
export const ENVOY_TIMEOUT_US = 200_000;

export interface Measured {
  checksPerSecond: number;
  durationsUs: Float64Array;
  allowed: number;
  /** Kratos timeouts tolerated in this run (only where the caller allowed some). */
  kratosUnavailable: number;
  whoami: number;
  cache: CacheCounts;
  /** Answers that took Envoy's timeout or longer (grpc-js answers those DEADLINE_EXCEEDED). */
  lateAnswers: number;
  /** The Kratos emulator's and the driver's (load client's) longest event-loop stall during the run. */
  kratosStallMs: number;
  driverStallMs: number;
  /** Time the server spent in garbage collection during the run, and how many pauses took over 100 ms. */
  gcMs: number;
  gcPausesOver100ms: number;
  wallMs: number;
  /** Service handler time quantiles, as histogram bucket upper bounds (NaN for the floor). */
  handlerP50Ms: number;
  handlerP99Ms: number;
  /** CPU time the server used during the run (all threads; the scrapes add a little). */
  serverCpuMs: number;
  /** The service's V8 heap in use right after the run (live data plus garbage not yet collected). */
  heapUsedBytes: number | undefined;
  problems: string[];
}

export interface Bracket {
  server: ServerProcess;
  kratos: KratosProcess;
}

interface Snapshot {
  metrics: Samples | undefined;
  floorChecks: number | undefined;
  whoami: number;
  kratosStallMs: number;
  serverCpuMs: number;
}

async function snapshot({ server, kratos }: Bracket): Promise<Snapshot> {
  const { total, stallMs } = await kratos.whoamiTotal();
  return {
    serverCpuMs: cpuTimeMs(server.pid) ?? Number.NaN,
    metrics: server.httpPort === undefined ? undefined : await scrapeMetrics(server.httpPort),
    floorChecks: server.httpPort === undefined ? await server.floorChecks() : undefined,
    whoami: total,
    kratosStallMs: stallMs,
  };
}

function checksCounted(before: Snapshot, after: Snapshot): number {
  if (!before.metrics || !after.metrics) return (after.floorChecks ?? 0) - (before.floorChecks ?? 0);
  return [...counterDeltas(before.metrics, after.metrics, CHECKS).values()].reduce((sum, n) => sum + n, 0);
}

/**
 * The snapshot after a run, once the server has counted every answered check: a check answered
 * DEADLINE_EXCEEDED by grpc-js is counted only when its handler finishes, a little later.
 */
async function settledSnapshot(bracket: Bracket, before: Snapshot, answered: number): Promise<Snapshot> {
  let after = await snapshot(bracket);
  for (let attempt = 0; attempt < 10 && checksCounted(before, after) < answered; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    after = await snapshot(bracket);
  }
  return after;
}

const HANDLER = 'kratos_ext_authz_check_duration_seconds_bucket';

/**
 * p50 and p99 of the service's own handler time (receiving a Check to handing its answer to
 * gRPC), as the upper bound of the histogram bucket holding each: the figure OPA-Envoy
 * publishes ("gRPC handler time"), without the transport and queueing the client sees.
 */
function handlerQuantiles(
  before: Samples | undefined,
  after: Samples | undefined,
): { handlerP50Ms: number; handlerP99Ms: number } {
  const none = { handlerP50Ms: Number.NaN, handlerP99Ms: Number.NaN };
  if (!before || !after) return none;
  const buckets = [...counterDeltas(before, after, HANDLER)]
    .map(([key, count]) => {
      const le = /le="([^"]+)"/.exec(key)?.[1];
      return { le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count };
    })
    .filter((bucket) => !Number.isNaN(bucket.le))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total === 0) return none;
  const bound = (q: number): number => (buckets.find((bucket) => bucket.count >= q * total)?.le ?? Number.NaN) * 1000;
  return { handlerP50Ms: bound(0.5), handlerP99Ms: bound(0.99) };
}

const GC = 'nodejs_gc_duration_seconds';

/** From prom-client's GC histogram (one series per GC kind): total pause time and pauses over 100 ms. */
function gcDuring(
  before: Samples | undefined,
  after: Samples | undefined,
): { gcMs: number; gcPausesOver100ms: number } {
  if (!before || !after) return { gcMs: 0, gcPausesOver100ms: 0 };
  let seconds = 0;
  let long = 0;
  for (const [key, delta] of counterDeltas(before, after, `${GC}_sum`))
    if (key.startsWith(`${GC}_sum`)) seconds += delta;
  for (const [key, delta] of counterDeltas(before, after, `${GC}_count`))
    if (key.startsWith(`${GC}_count`)) long += delta;
  for (const [key, delta] of counterDeltas(before, after, `${GC}_bucket`)) if (key.includes('le="0.1"')) long -= delta;
  return { gcMs: seconds * 1000, gcPausesOver100ms: long };
}

type Load = () => Promise<{ checksPerSecond: number; durationsUs: Float64Array; failed: number }>;

/** Runs `load` between two snapshots and checks the server answered exactly what the client saw. */
async function bracketed(bracket: Bracket, load: Load, slack: number, tolerated = 0): Promise<Measured> {
  bracket.server.takeWarnings();
  const before = await snapshot(bracket);
  collectGarbage();
  takeDriverStallMs();
  const started = performance.now();
  const run = await load();
  const wallMs = performance.now() - started;
  const driverStallMs = takeDriverStallMs();
  const answered = run.durationsUs.length;
  const after = await settledSnapshot(bracket, before, answered);
  const problems = run.failed > 0 ? [`${run.failed} requests failed at the HTTP/2 or gRPC level`] : [];
  const base = {
    ...run,
    whoami: after.whoami - before.whoami,
    lateAnswers: run.durationsUs.reduce((late, us) => (us >= ENVOY_TIMEOUT_US ? late + 1 : late), 0),
    kratosStallMs: after.kratosStallMs,
    driverStallMs,
    wallMs,
    serverCpuMs: after.serverCpuMs - before.serverCpuMs,
    ...gcDuring(before.metrics, after.metrics),
    ...handlerQuantiles(before.metrics, after.metrics),
  };
  if (!before.metrics || !after.metrics) {
    problems.push(...checkFloorAnswers(checksCounted(before, after), answered, slack));
    return {
      ...base,
      allowed: checksCounted(before, after),
      kratosUnavailable: 0,
      cache: { hit: 0, miss: 0, coalesced: 0, stale: 0 },
      heapUsedBytes: undefined,
      problems,
    };
  }
  const decisions = checkDecisions(before.metrics, after.metrics, answered, slack, tolerated);
  problems.push(...decisions.problems);
  if (problems.length > 0) {
    problems.push(
      `longest stalls during the run: Kratos emulator ${after.kratosStallMs.toFixed(0)} ms, driver ${driverStallMs.toFixed(0)} ms`,
    );
    problems.push(...bracket.server.takeWarnings().map((line) => `service log: ${line}`));
  }
  const cache = sessionCacheCounts(before.metrics, after.metrics);
  return {
    ...base,
    allowed: decisions.allowed,
    kratosUnavailable: decisions.kratosUnavailable,
    cache,
    heapUsedBytes: after.metrics.get('nodejs_heap_size_used_bytes'),
    problems,
  };
}

export interface H2loadShape {
  clients: number;
  streams: number;
  durationSeconds?: number;
  requests?: number;
  ratePerClient?: number;
}

/** h2load against the bracket's server with `dataFile` as every request's body. */
export function measureH2load(
  bracket: Bracket,
  dataFile: string,
  workdir: string,
  shape: H2loadShape,
): Promise<Measured> {
  const run: H2loadRun = {
    ...grpcCheckTarget(bracket.server.grpcPort, dataFile),
    logFile: join(workdir, 'h2load.log'),
    ...shape,
  };
  // A timed run may stop with requests still in flight: the server answers them, h2load does not log them.
  const slack = shape.durationSeconds === undefined ? 0 : shape.clients * shape.streams;
  return bracketed(
    bracket,
    async () => {
      const result: H2loadResult = await runH2load(run);
      return { checksPerSecond: result.requestsPerSecond, durationsUs: result.durationsUs, failed: result.non200 };
    },
    slack,
  );
}

/** Untimed h2load requests (JIT, connections, cache fill); only failures are reported. */
export async function warmUpH2load(
  server: ServerProcess,
  dataFile: string,
  workdir: string,
  requests: number,
  clients: number,
  streams: number,
): Promise<void> {
  const result = await runH2load({
    ...grpcCheckTarget(server.grpcPort, dataFile),
    logFile: join(workdir, 'warmup.log'),
    clients,
    streams,
    requests,
  });
  if (result.non200 > 0 || result.durationsUs.length !== requests)
    throw new Error(`warm-up: ${result.non200} of ${requests} requests failed`);
}

/** Our raw HTTP/2 client, for runs where each request carries a different body. */
export function measureRaw(
  bracket: Bracket,
  plan: Omit<LoadPlan, 'port'>,
  toleratedKratosTimeouts = 0,
): Promise<Measured> {
  return bracketed(
    bracket,
    async () => {
      const result: LoadResult = await runLoad({ ...plan, port: bracket.server.grpcPort });
      return {
        checksPerSecond: result.succeeded / result.elapsedSeconds,
        durationsUs: result.durationsUs,
        failed: result.failed,
      };
    },
    0,
    toleratedKratosTimeouts,
  );
}
