/**
 * The peer phase: this service and Heimdall v0.17.18 answering the same Envoy 1.40.0 for the
 * same work, as issue 21 measured them. One route (the browser request of envoy-load.ts), one
 * aal2 session cookie, the three identity headers upstream, the same cache TTL; the service over
 * gRPC and over http_service, Heimdall over gRPC with its access log off and on, and Envoy with
 * no ext_authz at all as the baseline the added latency is measured from. Each core set gives
 * every authorization process those cores (Heimdall's GOMAXPROCS, Envoy's workers = their count);
 * Envoy, h2load, the upstream and the Kratos emulator stay on the load core.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installBinaries, pinnedVersions, type Binary } from '../stack/versions';
import { writeServiceConfig } from './fixtures';
import { startEnvoy, type EnvoyAuthz, type RunningEnvoy } from './envoy-proxy';
import { requestOf } from './envoy-load';
import { runH2load, type H2loadResult } from './h2load';
import { installHeimdall, startHeimdall } from './heimdall';
import type { SessionCredentials } from './kratos-process';
import type { MeasuredPeerPhase, PeerCoreRun, PeerReport, PeerRun, PeerVariant, PeerVariantName } from './peer-result';
import { cpuTimeMs, rssBytes, startService } from './processes';
import { currentLoad } from './report';
import type { BenchContext } from './scenarios';
import { concatDurations, median, summarizeMicros } from './stats';
import { UpstreamProcess, type UpstreamCounts } from './upstream-process';

/** Heimdall's docs' Kratos example caches whoami answers for 5 minutes; the service gets the same. */
const CACHE_TTL = '300s';
/** The saturating load: 8 connections × 8 streams. */
const SATURATING = { clients: 8, streams: 8 } as const;
/** h2load clocks --rps at most every 10 ms: at ≤ 100/s a client sends one request per tick, not bursts. */
const MAX_RATE_PER_CLIENT = 100;
/** Requests answered other than 200 a run tolerates (Envoy's 200 ms timeout in a stall of the shared machine). */
const TOLERATED_SHARE = 0.01;
/** Longer than any answer through Envoy takes when nothing stalls (its ext_authz timeout is 200 ms). */
const SETTLE_MS = 250;

interface PeerAuthz {
  /** The authorization process; with server.workers > 1, the cluster's primary, its workers its children. */
  pid: number;
  envoy: EnvoyAuthz;
  stop(): Promise<void>;
}

interface PeerVariantSpec {
  name: PeerVariantName;
  authz: string;
  start: (cores: readonly number[]) => Promise<PeerAuthz | undefined>;
}

interface Piece {
  requestsPerSecond: number;
  durationsUs: Float64Array;
  cpuMs: number;
  answered: number;
  notOk: number;
  problems: string[];
}

interface Running {
  spec: PeerVariantSpec;
  authz: PeerAuthz | undefined;
  proxy: RunningEnvoy;
  saturating: Piece[];
  rates: Piece[][];
}

type Shape = { seconds: number; rate?: number } | { requests: number; streams: number };

function h2loadShape(shape: Shape): {
  clients: number;
  streams: number;
  durationSeconds?: number;
  requests?: number;
  ratePerClient?: number;
} {
  if ('requests' in shape) return { clients: 1, streams: shape.streams, requests: shape.requests };
  if (shape.rate === undefined) return { ...SATURATING, durationSeconds: shape.seconds };
  const clients = Math.max(1, Math.ceil(shape.rate / MAX_RATE_PER_CLIENT));
  return { clients, streams: 1, durationSeconds: shape.seconds, ratePerClient: shape.rate / clients };
}

function drive(
  ctx: BenchContext,
  proxy: RunningEnvoy,
  session: SessionCredentials,
  shape: Shape,
): Promise<H2loadResult> {
  const request = requestOf('browser', session, 0);
  return runH2load({
    url: `${proxy.baseUrl}${request.path}`,
    headers: request.headers,
    logFile: join(ctx.workdir, 'peer.log'),
    ...h2loadShape(shape),
  });
}

/** Requests a stopped h2load left in flight still reach the upstream: wait until its count stops moving. */
async function settledCounts(upstream: UpstreamProcess): Promise<UpstreamCounts> {
  let last = await upstream.counts();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const now = await upstream.counts();
    if (now.requests === last.requests) return now;
    last = now;
  }
}

/** `pid` and its descendants (/proc, Linux): a cluster's primary and its worker processes. */
function processTree(pid: number): number[] {
  let children: number[];
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    children = [];
  }
  return [pid, ...children.flatMap(processTree)];
}

/** Summed over the process tree; undefined when any process could not be read. */
function treeSum(pid: number, read: (each: number) => number | undefined): number | undefined {
  const values = processTree(pid).map(read);
  return values.some((value) => value === undefined)
    ? undefined
    : values.reduce<number>((sum, value) => sum + (value ?? 0), 0);
}

/** One measured run, proved by the upstream: every request it saw was allowed with the identity header. */
async function measure(
  ctx: BenchContext,
  running: Running,
  upstream: UpstreamProcess,
  session: SessionCredentials,
  shape: Shape,
): Promise<Piece> {
  const cpu = (): number => (running.authz ? (treeSum(running.authz.pid, cpuTimeMs) ?? Number.NaN) : Number.NaN);
  const before = await settledCounts(upstream);
  const cpuBefore = cpu();
  const result = await drive(ctx, running.proxy, session, shape);
  const cpuAfter = cpu();
  const after = await settledCounts(upstream);
  const answered = result.durationsUs.length;
  const { clients, streams } = h2loadShape(shape);
  const problems: string[] = [];
  const tolerated = Math.ceil(answered * TOLERATED_SHARE);
  if (result.non200 > tolerated)
    problems.push(`${result.non200} requests were not answered 200, more than ${tolerated}`);
  const reached = after.requests - before.requests;
  // A timed h2load run stops with its requests in flight: answered upstream, not logged.
  if (reached < answered || reached > answered + clients * streams)
    problems.push(`h2load counted ${answered} answers but the upstream ${reached} requests`);
  const withIdentity = after.withIdentity - before.withIdentity;
  if (running.authz && withIdentity < answered)
    problems.push(`only ${withIdentity} of ${answered} upstream requests carried x-kratos-identity-id`);
  return {
    requestsPerSecond: result.requestsPerSecond,
    durationsUs: result.durationsUs,
    cpuMs: cpuAfter - cpuBefore,
    answered,
    notOk: result.non200,
    problems,
  };
}

function combine(pieces: Piece[], hasAuthz: boolean): PeerRun {
  const answered = pieces.reduce((sum, piece) => sum + piece.answered, 0);
  const cpuMs = pieces.reduce((sum, piece) => sum + piece.cpuMs, 0);
  return {
    requestsPerSecond: median(pieces.map((piece) => piece.requestsPerSecond)),
    latency: summarizeMicros(concatDurations(pieces.map((piece) => piece.durationsUs))),
    authzCpuUsPerCheck: hasAuthz && answered > 0 ? (cpuMs * 1000) / answered : undefined,
    notOk: pieces.reduce((sum, piece) => sum + piece.notOk, 0),
    problems: pieces.flatMap((piece) => piece.problems),
  };
}

/** whoami calls for `checks` simultaneous requests on a cookie nobody has checked, while Kratos is slow. */
async function burstWhoami(
  ctx: BenchContext,
  running: Running,
): Promise<{ whoami: number; answered: number; problems: string[] }> {
  const s = ctx.settings;
  const [session] = await ctx.kratos.newSessions(1);
  if (!session) throw new Error('the emulator made no session');
  await ctx.kratos.setLatency(s.burstKratosMs);
  try {
    const before = (await ctx.kratos.whoamiTotal()).total;
    const result = await drive(ctx, running.proxy, session, {
      requests: s.peerBurstChecks,
      streams: s.peerBurstChecks,
    });
    const whoami = (await ctx.kratos.whoamiTotal()).total - before;
    // 500 checks through one Envoy worker may take longer than its 200 ms ext_authz timeout, so the
    // last ones can be 503s on any machine: a figure. None answered means nothing was measured.
    const answered = result.durationsUs.length;
    const problems = answered === 0 ? [`burst: none of ${s.peerBurstChecks} requests was answered 200`] : [];
    return { whoami, answered, problems };
  } finally {
    await ctx.kratos.setLatency(s.missKratosMs);
  }
}

async function setUp(
  ctx: BenchContext,
  envoy: Binary,
  upstream: UpstreamProcess,
  spec: PeerVariantSpec,
  cores: readonly number[],
): Promise<Running> {
  const authz = await spec.start(cores);
  // Names the process whose stall-probe log (stalls-<pid>.log) belongs to this variant.
  if (authz) process.stderr.write(`bench: peer, cores ${cores.join(',')}: ${spec.name} is pid ${authz.pid}\n`);
  try {
    const proxy = await startEnvoy(
      envoy,
      ctx.workdir,
      `peer-${spec.name}`,
      upstream.port,
      authz?.envoy ?? { kind: 'none' },
      cores.length,
    );
    return { spec, authz, proxy, saturating: [], rates: ctx.settings.peerRates.map(() => []) };
  } catch (error) {
    await authz?.stop();
    throw error;
  }
}

async function runCoreSet(
  ctx: BenchContext,
  envoy: Binary,
  upstream: UpstreamProcess,
  specs: PeerVariantSpec[],
  cores: readonly number[],
): Promise<PeerCoreRun> {
  const s = ctx.settings;
  const loadAtStart = currentLoad();
  const [session] = await ctx.kratos.newSessions(1);
  if (!session) throw new Error('the emulator made no session');
  const running: Running[] = [];
  try {
    for (const spec of specs) running.push(await setUp(ctx, envoy, upstream, spec, cores));
    // JIT, connections and the caches: untimed.
    for (const each of running)
      await drive(ctx, each.proxy, session, { requests: s.peerWarmupRequests, streams: SATURATING.streams });
    for (let round = 0; round < s.peerRounds; round++) {
      for (const each of running) {
        process.stderr.write(
          `bench: peer, cores ${cores.join(',')}, round ${round + 1}/${s.peerRounds}: ${each.spec.name}…\n`,
        );
        each.saturating.push(await measure(ctx, each, upstream, session, { seconds: s.peerSaturatingSeconds }));
        for (const [index, rate] of s.peerRates.entries())
          each.rates[index]?.push(await measure(ctx, each, upstream, session, { seconds: s.peerRateSeconds, rate }));
      }
    }
    const variants: PeerVariant[] = [];
    for (const each of running) {
      const hasAuthz = each.authz !== undefined;
      const rss = each.authz ? treeSum(each.authz.pid, rssBytes) : undefined;
      const burst = hasAuthz ? await burstWhoami(ctx, each) : undefined;
      const saturating = combine(each.saturating, hasAuthz);
      const rates = s.peerRates.map((rate, index) => ({ rate, run: combine(each.rates[index] ?? [], hasAuthz) }));
      variants.push({
        name: each.spec.name,
        authz: each.spec.authz,
        saturating,
        rates,
        rssMiB: rss === undefined ? undefined : rss / 2 ** 20,
        burstWhoami: burst?.whoami,
        burstAnswered: burst?.answered,
        problems: [...saturating.problems, ...rates.flatMap(({ run }) => run.problems), ...(burst?.problems ?? [])],
      });
    }
    return { cores: [...cores], loadAverage: { start: loadAtStart, end: currentLoad() }, variants };
  } finally {
    for (const each of running) {
      await each.proxy.stop();
      await each.authz?.stop();
    }
  }
}

/** Sets server.workers in a config writeServiceConfig wrote (JSON, which is YAML). */
function withWorkers(path: string, workers: number): void {
  const config = JSON.parse(readFileSync(path, 'utf8')) as { server: Record<string, unknown> };
  config.server.workers = workers;
  writeFileSync(path, JSON.stringify(config, null, 2));
}

export async function peerPhase(ctx: BenchContext): Promise<PeerReport> {
  const s = ctx.settings;
  const outcome = installBinaries();
  if (!outcome.installed)
    return { skipped: `the real binaries are not installed and cannot be: missing ${outcome.missing.join(', ')}` };
  const newest = pinnedVersions().envoy.at(-1);
  const envoy = outcome.binaries.envoy.find((each) => each.version === newest);
  if (!envoy) throw new Error(`Envoy ${String(newest)} is pinned in stack/versions.json but not installed`);
  const heimdall = installHeimdall();
  await ctx.kratos.setLatency(s.missKratosMs);
  const service =
    (kind: 'grpc' | 'http', workers: 'one process' | 'one per core' = 'one process') =>
    async (cores: readonly number[]): Promise<PeerAuthz> => {
      const config = writeServiceConfig(ctx.workdir, `peer-${kind}`, ctx.kratos, 'on', {}, CACHE_TTL);
      if (workers === 'one per core') withWorkers(config, cores.length);
      const server = await startService(config, ctx.serviceNodeFlags, cores);
      const port = kind === 'grpc' ? server.grpcPort : server.httpAuthzPort;
      if (port === undefined) throw new Error('the service logged no http_authz_port');
      return { pid: server.pid, envoy: { kind, port }, stop: () => server.stop() };
    };
  const peer =
    (accessLog: boolean) =>
    async (cores: readonly number[]): Promise<PeerAuthz> => {
      const running = await startHeimdall({
        binary: heimdall,
        kratosPublicUrl: ctx.kratos.publicUrl,
        accessLog,
        cacheTtl: CACHE_TTL,
        cores,
        logFile: join(ctx.workdir, `heimdall-${String(accessLog)}-${cores.length}.log`),
      });
      // Heimdall's own Envoy example leaves encode_raw_headers at its default (false), the only form it reads.
      return {
        pid: running.pid,
        envoy: { kind: 'grpc', port: running.grpcPort, encodeRawHeaders: false },
        stop: () => running.stop(),
      };
    };
  const specsFor = (cores: readonly number[]): PeerVariantSpec[] => [
    { name: 'envoy-alone', authz: 'none (no ext_authz filter)', start: async () => undefined },
    { name: 'service-grpc', authz: 'kratos-ext-authz over gRPC (one process)', start: service('grpc') },
    {
      name: 'service-http',
      authz: 'kratos-ext-authz over http_service (/ext-authz, one process)',
      start: service('http'),
    },
    ...(cores.length > 1
      ? [
          {
            name: 'service-grpc-workers' as const,
            authz: `kratos-ext-authz over gRPC, server.workers: ${cores.length} (a primary and ${cores.length} worker processes)`,
            start: service('grpc', 'one per core'),
          },
        ]
      : []),
    { name: 'heimdall', authz: 'Heimdall v0.17.18 over gRPC, access log off', start: peer(false) },
    {
      name: 'heimdall-access-log',
      authz: 'Heimdall v0.17.18 over gRPC, access log on (its default; to a file)',
      start: peer(true),
    },
  ];
  const upstream = await UpstreamProcess.start();
  try {
    const coreRuns: PeerCoreRun[] = [];
    for (const cores of s.peerCoreSets) coreRuns.push(await runCoreSet(ctx, envoy, upstream, specsFor(cores), cores));
    const result: MeasuredPeerPhase = {
      envoy: envoy.version,
      heimdall: 'v0.17.18',
      rounds: s.peerRounds,
      burstChecks: s.peerBurstChecks,
      coreRuns,
    };
    return result;
  } finally {
    await upstream.stop();
  }
}
