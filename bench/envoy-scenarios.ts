/**
 * Through the real Envoy: the same upstream and the same requests with ext_authz off
 * (envoy-direct), to the do-nothing floor, to the service with every check a cache hit, and
 * with the cache off against the emulator (1 ms) and against the real Kratos; and the peer users
 * deploy without such a service, Envoy's HTTP ext_authz straight at a real Kratos's whoami
 * (envoy-peer-kratos). Envoy, h2load, the upstream and the service's Kratos run on the load
 * core; the authorization process (the service, the floor, or the peer's Kratos) on the server core.
 */
import { installBinaries, pinnedVersions, type Binary } from '../stack/versions';
import { writeServiceConfig, type KratosUrls } from './fixtures';
import { startEnvoy, type EnvoyAuthz, type RunningEnvoy } from './envoy-proxy';
import { processesForRate, runFleet, type FleetResult, type TimedShape } from './envoy-load';
import type { EnvoyReport, EnvoyRun, EnvoyVariant, VariantName } from './envoy-result';
import type { SessionCredentials } from './kratos-process';
import { counterDeltas, sampleKey, scrapeMetrics, type Samples } from './prometheus';
import { cpuTimeMs, SERVER_CORE, startFloorServer, startService, type ServerProcess } from './processes';
import { startRealKratos, type RealKratos } from './real-kratos';
import { currentLoad } from './report';
import type { BenchContext } from './scenarios';
import { concatDurations, median, summarizeMicros } from './stats';
import { UpstreamProcess, type UpstreamCounts } from './upstream-process';
import { CACHE, CHECKS } from './verify';
import { whoamiLatency } from './whoami-latency';

const WHOAMI_OK = sampleKey('kratos_ext_authz_kratos_requests_total', { endpoint: 'whoami', status: '200' });
const ALLOWED = ['cookie', 'token'].map((credential) =>
  sampleKey(CHECKS, { front_door: 'grpc', decision: 'allow', credential, reason: 'ok' }),
);
const UNAVAILABLE = ['cookie', 'token'].map((credential) =>
  sampleKey(CHECKS, { front_door: 'grpc', decision: 'error', credential, reason: 'kratos_unavailable' }),
);

/** What each variant must show besides "every request reached the upstream, allowed". */
type Expectation = 'nothing' | 'floor' | 'all hits' | 'whoami per check' | 'kratos identity header';

/** What answers Envoy's ext_authz in a variant, and the process whose CPU it costs. */
interface AuthzProcess {
  pid: number;
  envoy: EnvoyAuthz;
  /** The floor or the service (their counters prove each run); undefined for the peer's Kratos. */
  server: ServerProcess | undefined;
  stop(): Promise<void>;
}

function grpcAuthz(server: ServerProcess): AuthzProcess {
  return { pid: server.pid, envoy: { kind: 'grpc', port: server.grpcPort }, server, stop: () => server.stop() };
}

/** The peer's Kratos, which the phase starts first (for its sessions) and stops last. */
function peerAuthz(kratos: RealKratos): AuthzProcess {
  return {
    pid: kratos.pid,
    envoy: { kind: 'kratos-whoami', kratosPort: Number(new URL(kratos.publicUrl).port) },
    server: undefined,
    stop: async () => undefined,
  };
}

interface Variant {
  name: VariantName;
  authz: string;
  expectation: Expectation;
  credentials: readonly SessionCredentials[];
  /** For the miss variants: the Kratos whose own whoami latency is probed during fixed-rate runs. */
  probe?: { publicUrl: string; headers: Array<Record<string, string>> };
  /** Starts the authorization server (none for envoy-direct). */
  start: () => Promise<AuthzProcess | undefined>;
}

interface Snapshot {
  cpuMs: number;
  metrics: Samples | undefined;
  floorChecks: number | undefined;
  upstream: UpstreamCounts;
}

async function snapshot(authz: AuthzProcess | undefined, upstream: UpstreamProcess): Promise<Snapshot> {
  const server = authz?.server;
  return {
    cpuMs: authz ? (cpuTimeMs(authz.pid) ?? Number.NaN) : Number.NaN,
    metrics: server?.httpPort === undefined ? undefined : await scrapeMetrics(server.httpPort),
    floorChecks: server && server.httpPort === undefined ? await server.floorChecks() : undefined,
    upstream: await upstream.counts(),
  };
}

/**
 * Requests Envoy may answer other than 200 within a run (its 200 ms ext_authz timeout, during a
 * stall of the shared machine), and Kratos timeouts the service may meet, before the run counts
 * as broken: a wrong config or decision fails (nearly) every request, a stall a few.
 */
const TOLERATED_SHARE = 0.01;

interface Verified {
  /** Checks the authorization server counted (allowed, or answered Kratos-unavailable). */
  checks: number;
  notOk: number;
  kratosUnavailable: number;
  problems: string[];
}

/** Checks the authorization server answered, and what they were; the proof a run measured its variant. */
function verify(variant: Variant, before: Snapshot, after: Snapshot, fleet: FleetResult): Verified {
  const answered = fleet.durationsUs.length;
  const notOk = fleet.non200;
  // A timed h2load process stops with at most its one request in flight: answered upstream, not logged.
  const slack = fleet.processes;
  const tolerated = Math.ceil(answered * TOLERATED_SHARE);
  const problems: string[] = [];
  if (notOk > tolerated)
    problems.push(`${notOk} requests were not answered 200 (Envoy 403/503, or failed streams), more than ${tolerated}`);
  const reached = after.upstream.requests - before.upstream.requests;
  if (reached < answered || reached > answered + slack)
    problems.push(`h2load counted ${answered} answers but the upstream ${reached} requests`);
  let checks = 0;
  let allowed = 0;
  let kratosUnavailable = 0;
  if (variant.expectation === 'floor') checks = (after.floorChecks ?? 0) - (before.floorChecks ?? 0);
  if (variant.expectation === 'kratos identity header') {
    // No counters of its own: Envoy forwards Kratos's identity header only from a whoami 200,
    // and asks Kratos once per request (no cache), so each answered request is one check.
    checks = answered;
    const withIdentity = after.upstream.withIdentity - before.upstream.withIdentity;
    if (withIdentity < answered)
      problems.push(`only ${withIdentity} of ${answered} upstream requests carried Kratos's identity header`);
  }
  if (before.metrics && after.metrics) {
    const deltas = counterDeltas(before.metrics, after.metrics, CHECKS);
    allowed = ALLOWED.reduce((sum, key) => sum + (deltas.get(key) ?? 0), 0);
    kratosUnavailable = UNAVAILABLE.reduce((sum, key) => sum + (deltas.get(key) ?? 0), 0);
    checks = allowed + kratosUnavailable;
    for (const key of [...ALLOWED, ...UNAVAILABLE]) deltas.delete(key);
    if (deltas.size > 0)
      problems.push(`checks that were not allows: ${[...deltas].map(([key, n]) => `${key} ×${n}`).join(', ')}`);
    if (kratosUnavailable > tolerated)
      problems.push(`${kratosUnavailable} checks met a Kratos timeout, more than ${tolerated}`);
    const withIdentity = after.upstream.withIdentity - before.upstream.withIdentity;
    if (withIdentity < answered)
      problems.push(`only ${withIdentity} of ${answered} upstream requests carried the identity header`);
    const hits =
      counterDeltas(before.metrics, after.metrics, CACHE).get(sampleKey(CACHE, { cache: 'session', result: 'hit' })) ??
      0;
    const whoami =
      counterDeltas(before.metrics, after.metrics, 'kratos_ext_authz_kratos_requests_total').get(WHOAMI_OK) ?? 0;
    if (variant.expectation === 'all hits' && hits < allowed)
      problems.push(`only ${hits} of ${allowed} allowed checks were cache hits`);
    // A check Envoy gave up on is still in flight at the service when h2load sends that
    // credential's next request, which then joins its whoami: at most one per request not 200.
    // And the request each process had in flight when the previous run stopped may have its
    // whoami counted in one run and its check in the next: at most one per process.
    if (variant.expectation === 'whoami per check' && (whoami > allowed + slack || whoami < allowed - notOk - slack))
      problems.push(`${allowed} allowed checks but ${whoami} whoami calls`);
  }
  // Requests Envoy answered 503 after its timeout were still checked, later.
  if (variant.expectation !== 'nothing' && (checks < answered || checks > answered + notOk + slack))
    problems.push(
      `h2load counted ${answered} answers (+${notOk} not 200) but the authorization server ${checks} checks`,
    );
  return { checks, notOk, kratosUnavailable, problems };
}

/** One measured run of one variant in one round; rounds are combined into an EnvoyRun. */
interface Piece {
  checksPerSecond: number;
  durationsUs: Float64Array;
  checks: number;
  cpuMs: number;
  notOk: number;
  kratosUnavailable: number;
  whoamiUs: Float64Array | undefined;
  problems: string[];
}

/** A variant set up for the whole phase: its authorization server and its Envoy. */
interface Running {
  variant: Variant;
  authz: AuthzProcess | undefined;
  proxy: RunningEnvoy;
  saturating: Piece[];
  rates: Piece[][];
}

/** Whoami calls this far apart: a light probe beside a fixed-rate run (a few % of its rate). */
const PROBE_PAUSE_MS = 20;

async function measure(
  ctx: BenchContext,
  running: Running,
  upstream: UpstreamProcess,
  shape: TimedShape,
): Promise<Piece> {
  const { variant, authz, proxy } = running;
  const before = await snapshot(authz, upstream);
  // Bounded: the probe's calls fit in the run (each call takes at least the pause).
  const probeCalls = Math.floor((shape.seconds * 1000) / (PROBE_PAUSE_MS + 2));
  const probe =
    variant.probe && shape.totalRate !== undefined
      ? whoamiLatency(variant.probe.publicUrl, variant.probe.headers, probeCalls, PROBE_PAUSE_MS)
      : undefined;
  const [fleet, whoamiUs] = await Promise.all([
    runFleet(proxy.baseUrl, variant.credentials, shape, ctx.workdir),
    probe,
  ]);
  const after = await snapshot(authz, upstream);
  return {
    checksPerSecond: fleet.checksPerSecond,
    durationsUs: fleet.durationsUs,
    cpuMs: after.cpuMs - before.cpuMs,
    whoamiUs,
    ...verify(variant, before, after, fleet),
  };
}

function combine(pieces: Piece[], hasServer: boolean, load: string): EnvoyRun {
  const total = (pick: (piece: Piece) => number): number => pieces.reduce((sum, piece) => sum + pick(piece), 0);
  const checks = total((piece) => piece.checks);
  const cpuMs = total((piece) => piece.cpuMs);
  const whoami = pieces.flatMap((piece) => (piece.whoamiUs ? [piece.whoamiUs] : []));
  return {
    load,
    checksPerSecond: median(pieces.map((piece) => piece.checksPerSecond)),
    latency: summarizeMicros(concatDurations(pieces.map((piece) => piece.durationsUs))),
    checks,
    // ms of CPU per check is CPU seconds per 1000 checks.
    authzCpuSecondsPer1000: hasServer && checks > 0 ? cpuMs / checks : undefined,
    kratosWhoami: whoami.length > 0 ? summarizeMicros(concatDurations(whoami)) : undefined,
    notOk: total((piece) => piece.notOk),
    kratosUnavailable: total((piece) => piece.kratosUnavailable),
    problems: pieces.flatMap((piece) => piece.problems),
  };
}

async function setUp(ctx: BenchContext, envoy: Binary, upstream: UpstreamProcess, variant: Variant): Promise<Running> {
  const authz = await variant.start();
  try {
    const proxy = await startEnvoy(envoy, ctx.workdir, variant.name, upstream.port, authz?.envoy ?? { kind: 'none' });
    return { variant, authz, proxy, saturating: [], rates: ctx.settings.envoyRates.map(() => []) };
  } catch (error) {
    await authz?.stop();
    throw error;
  }
}

/** One round of one variant: saturating, then each fixed rate. */
async function runRound(ctx: BenchContext, running: Running, upstream: UpstreamProcess): Promise<void> {
  const s = ctx.settings;
  running.saturating.push(
    await measure(ctx, running, upstream, { processes: s.envoySaturatingProcesses, seconds: s.envoySaturatingSeconds }),
  );
  for (const [index, rate] of s.envoyRates.entries()) {
    running.rates[index]?.push(
      await measure(ctx, running, upstream, {
        processes: processesForRate(rate),
        seconds: s.envoyRateSeconds,
        totalRate: rate,
      }),
    );
  }
}

function variantResult(ctx: BenchContext, running: Running): EnvoyVariant {
  const s = ctx.settings;
  const hasServer = running.authz !== undefined;
  const rounds = `${s.envoyRounds} rounds`;
  return {
    name: running.variant.name,
    authz: running.variant.authz,
    saturating: combine(
      running.saturating,
      hasServer,
      `${s.envoySaturatingProcesses} h2load processes × 1 connection × 1 stream, saturating, ${rounds} × ${s.envoySaturatingSeconds} s`,
    ),
    rates: s.envoyRates.map((rate, index) => {
      const processes = processesForRate(rate);
      return {
        rate,
        run: combine(
          running.rates[index] ?? [],
          hasServer,
          `${rate} req/s: ${processes} h2load processes × --rps ${(rate / processes).toFixed(1)}, ${rounds} × ${s.envoyRateSeconds} s`,
        ),
      };
    }),
  };
}

/** Every variant set up at once, then measured in turns, round after round. */
async function runVariants(
  ctx: BenchContext,
  envoy: Binary,
  upstream: UpstreamProcess,
  variants: Variant[],
): Promise<EnvoyVariant[]> {
  const s = ctx.settings;
  const running: Running[] = [];
  try {
    for (const variant of variants) running.push(await setUp(ctx, envoy, upstream, variant));
    for (const each of running) {
      // JIT, connections and (for envoy-hit) the cache: untimed.
      await runFleet(
        each.proxy.baseUrl,
        each.variant.credentials,
        { processes: s.envoySaturatingProcesses, requestsPerProcess: s.envoyWarmupPerProcess },
        ctx.workdir,
      );
    }
    for (let round = 0; round < s.envoyRounds; round++) {
      for (const each of running) {
        process.stderr.write(`bench: envoy round ${round + 1}/${s.envoyRounds}: ${each.variant.name}…\n`);
        await runRound(ctx, each, upstream);
      }
    }
    return running.map((each) => variantResult(ctx, each));
  } finally {
    for (const each of running) {
      await each.proxy.stop();
      await each.authz?.stop();
    }
  }
}

/** The newest pinned Envoy: what a new deployment would run. */
function newestEnvoy(installed: Binary[]): Binary {
  const newest = pinnedVersions().envoy.at(-1);
  const binary = installed.find((each) => each.version === newest);
  if (!binary) throw new Error(`Envoy ${String(newest)} is pinned in stack/versions.json but not installed`);
  return binary;
}

/**
 * For `--profile envoy-hit`: the saturating envoy-hit load, through Envoy, against `server`
 * (started by the caller, e.g. under --cpu-prof) for `seconds`; returns the checks it counted.
 */
export async function driveEnvoyHit(ctx: BenchContext, server: ServerProcess, seconds: number): Promise<number> {
  const outcome = installBinaries();
  if (!outcome.installed) throw new Error(`the real binaries are not installed: missing ${outcome.missing.join(', ')}`);
  const s = ctx.settings;
  const credentials = await ctx.kratos.newSessions(Math.ceil(s.envoySaturatingProcesses / 2));
  const upstream = await UpstreamProcess.start();
  try {
    const authz = grpcAuthz(server);
    const proxy = await startEnvoy(
      newestEnvoy(outcome.binaries.envoy),
      ctx.workdir,
      'profile',
      upstream.port,
      authz.envoy,
    );
    const variant: Variant = {
      name: 'envoy-hit',
      authz: 'profiled service',
      expectation: 'all hits',
      credentials,
      start: async () => authz,
    };
    try {
      const running: Running = { variant, authz, proxy, saturating: [], rates: [] };
      await runFleet(
        proxy.baseUrl,
        credentials,
        { processes: s.envoySaturatingProcesses, requestsPerProcess: s.envoyWarmupPerProcess },
        ctx.workdir,
      );
      const piece = await measure(ctx, running, upstream, { processes: s.envoySaturatingProcesses, seconds });
      if (piece.problems.length > 0) throw new Error(piece.problems.join('; '));
      return piece.checks + s.envoySaturatingProcesses * s.envoyWarmupPerProcess;
    } finally {
      await proxy.stop();
    }
  } finally {
    await upstream.stop();
  }
}

export async function envoyPhase(ctx: BenchContext): Promise<EnvoyReport> {
  const s = ctx.settings;
  const outcome = installBinaries();
  if (!outcome.installed)
    return { skipped: `the real binaries are not installed and cannot be: missing ${outcome.missing.join(', ')}` };
  const envoy = newestEnvoy(outcome.binaries.envoy);
  const loadAtStart = currentLoad();
  const sessionsNeeded = Math.ceil(Math.max(s.envoySaturatingProcesses, ...s.envoyRates.map(processesForRate)) / 2);
  await ctx.kratos.setLatency(s.missKratosMs);
  const emulated = await ctx.kratos.newSessions(sessionsNeeded);
  const upstream = await UpstreamProcess.start();
  let real: RealKratos | undefined;
  let peerKratos: RealKratos | undefined;
  try {
    real = await startRealKratos(outcome.binaries.kratos, ctx.workdir);
    const realSessions = await real.newSessions(sessionsNeeded);
    // The peer's Kratos is its authorization process: on the server core, like the service.
    peerKratos = await startRealKratos(outcome.binaries.kratos, ctx.workdir, 'kratos-peer', SERVER_CORE);
    const peerSessions = await peerKratos.newSessions(sessionsNeeded);
    const peer = peerKratos;
    const realKratos: KratosUrls = real;
    const headers = (sessions: readonly SessionCredentials[]): Array<Record<string, string>> =>
      sessions.flatMap((session): Array<Record<string, string>> => [
        { cookie: session.cookie },
        { authorization: `Bearer ${session.token}` },
      ]);
    const service =
      (name: string, kratos: KratosUrls, cache: 'on' | 'off', policy?: Record<string, string>) => async () =>
        grpcAuthz(
          await startService(
            writeServiceConfig(ctx.workdir, `envoy-${name}`, kratos, cache, policy),
            ctx.serviceNodeFlags,
          ),
        );
    const variants: Variant[] = [
      {
        name: 'envoy-direct',
        authz: 'none (no ext_authz filter)',
        expectation: 'nothing',
        credentials: emulated,
        start: async () => undefined,
      },
      {
        name: 'envoy-floor',
        authz: 'floor-server.ts (do-nothing grpc-js Check)',
        expectation: 'floor',
        credentials: emulated,
        start: async () => grpcAuthz(await startFloorServer()),
      },
      {
        name: 'envoy-hit',
        authz: 'kratos-ext-authz, cache on, every check a hit',
        expectation: 'all hits',
        credentials: emulated,
        start: service('hit', ctx.kratos, 'on'),
      },
      {
        name: 'envoy-miss',
        authz: `kratos-ext-authz, cache off, emulator whoami ${s.missKratosMs} ms`,
        expectation: 'whoami per check',
        credentials: emulated,
        probe: { publicUrl: ctx.kratos.publicUrl, headers: headers(emulated) },
        start: service('miss', ctx.kratos, 'off'),
      },
      // Password-only identities (aal1 sessions): `aal1` for cookies too keeps it one whoami per
      // check, as the emulator's aal2 sessions under highest_available are.
      {
        name: 'envoy-miss-real',
        authz: `kratos-ext-authz, cache off, real Kratos ${real.version}`,
        expectation: 'whoami per check',
        credentials: realSessions,
        probe: { publicUrl: real.publicUrl, headers: headers(realSessions) },
        start: service('miss-real', realKratos, 'off', { cookie: 'aal1', token: 'aal1' }),
      },
      {
        name: 'envoy-peer-kratos',
        authz: `Envoy HTTP ext_authz straight at a real Kratos ${peer.version}'s whoami (bench/envoy-peer-kratos.yaml; that Kratos on the server core)`,
        expectation: 'kratos identity header',
        credentials: peerSessions,
        start: async () => peerAuthz(peer),
      },
    ];
    const results = await runVariants(ctx, envoy, upstream, variants);
    return {
      envoy: envoy.version,
      kratos: real.version,
      loadAverage: { start: loadAtStart, end: currentLoad() },
      rounds: s.envoyRounds,
      variants: results,
    };
  } finally {
    await real?.stop();
    await peerKratos?.stop();
    await upstream.stop();
  }
}
