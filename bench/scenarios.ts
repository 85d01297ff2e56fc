/**
 * The scenarios, run back to back in one process so their ratios hold on a noisy machine.
 * Each phase starts the servers it needs (pinned to the server core), measures, and stops them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sessions, writeServiceConfig } from './fixtures';
import type { KratosProcess } from './kratos-process';
import { measureH2load, measureRaw, warmUpH2load, type Bracket, type Measured } from './measure';
import { scrapeMetrics } from './prometheus';
import { rssBytes, startFloorServer, startService, type ServerProcess } from './processes';
import type { LoadClient, ScenarioResult } from './result';
import type { BenchSettings } from './settings';
import { concatDurations, median, summarizeMicros } from './stats';
import { whoamiLatency } from './whoami-latency';

export interface BenchContext {
  settings: BenchSettings;
  kratos: KratosProcess;
  sessions: Sessions;
  workdir: string;
  /** Extra node flags for every service process (e.g. heap limits to compare); none by default. */
  serviceNodeFlags: string[];
}

export function createContext(
  settings: BenchSettings,
  kratos: KratosProcess,
  workdir: string,
  serviceNodeFlags: string[] = [],
): BenchContext {
  return { settings, kratos, sessions: new Sessions(kratos), workdir, serviceNodeFlags };
}

function saturating(settings: BenchSettings): string {
  return `${settings.connections} conn × ${settings.streamsPerConnection} streams, saturating`;
}

function bodyFile(ctx: BenchContext, name: string, body: Buffer): string {
  const path = join(ctx.workdir, `${name}.bin`);
  writeFileSync(path, body);
  return path;
}

/** Counts every scenario reports, and a note when some answers came too late for Envoy. */
function runFacts(runs: Measured[]): { facts: Record<string, number>; notes: string[] } {
  const sum = (pick: (run: Measured) => number): number => runs.reduce((total, run) => total + pick(run), 0);
  const facts = {
    allowed: sum((r) => r.allowed),
    whoami: sum((r) => r.whoami),
    cacheHits: sum((r) => r.cache.hit),
    cacheMisses: sum((r) => r.cache.miss),
    cacheCoalesced: sum((r) => r.cache.coalesced),
    lateAnswers: sum((r) => r.lateAnswers),
    kratosStallMs: Math.max(0, ...runs.map((r) => Math.round(r.kratosStallMs))),
    driverStallMs: Math.max(0, ...runs.map((r) => Math.round(r.driverStallMs))),
    serverCpuUsPerCheck:
      Math.round(
        (sum((r) => r.serverCpuMs) * 10_000) /
          Math.max(
            1,
            sum((r) => r.allowed),
          ),
      ) / 10,
    serverGcMs: Math.round(sum((r) => r.gcMs)),
    serverGcShare: Math.round((sum((r) => r.gcMs) / sum((r) => r.wallMs)) * 1000) / 1000,
    serverGcPausesOver100ms: sum((r) => r.gcPausesOver100ms),
  };
  const notes: string[] = [];
  // Bucket bounds of one run; the round-based scenarios have their per-run figures in JSON only.
  const first = runs[0];
  if (runs.length === 1 && first && !Number.isNaN(first.handlerP50Ms)) {
    Object.assign(facts, { handlerP50MsAtMost: first.handlerP50Ms, handlerP99MsAtMost: first.handlerP99Ms });
    notes.push(
      `service handler time p50 ≤ ${first.handlerP50Ms} ms, p99 ≤ ${first.handlerP99Ms} ms (its own histogram)`,
    );
  }
  if (facts.lateAnswers > 0)
    notes.push(
      `${facts.lateAnswers} answers took ≥ 200 ms (Envoy's timeout: grpc-js answers DEADLINE_EXCEEDED when it sees that)`,
    );
  if (facts.serverGcPausesOver100ms > 0) notes.push(`${facts.serverGcPausesOver100ms} server GC pauses over 100 ms`);
  return { facts, notes };
}

function result(
  name: string,
  partial: Omit<ScenarioResult, 'name' | 'notes' | 'problems' | 'facts'> & Partial<ScenarioResult>,
): ScenarioResult {
  return { name, notes: [], problems: [], facts: {}, ...partial };
}

// ------------------------------------------------------------------ floor / hit / miss rounds

interface RoundTarget {
  name: 'floor' | 'hit' | 'miss';
  client: LoadClient;
  bracket: Bracket;
  /** The bodies the raw client cycles through (one for floor and hit). */
  pool: Buffer[];
  /** Untimed warm-up, then one saturating run of `seconds`. */
  measure: (seconds: number) => Promise<Measured>;
  runs: Measured[];
}

/** What a run must show to count as its scenario: hits were hits, misses each called Kratos. */
function validity(target: RoundTarget, run: Measured): string[] {
  if (target.name === 'hit' && run.cache.hit < run.allowed) {
    return [`only ${run.cache.hit} of ${run.allowed} checks were cache hits (${run.whoami} whoami calls)`];
  }
  if (target.name === 'miss' && run.whoami !== run.allowed)
    return [`${run.allowed} checks but ${run.whoami} whoami calls`];
  return [];
}

/** floor and hit: h2load, every request the same body (one cookie). */
function h2loadTarget(ctx: BenchContext, name: 'floor' | 'hit', server: ServerProcess, body: Buffer): RoundTarget {
  const { connections, streamsPerConnection, warmupRequests } = ctx.settings;
  const bracket = { server, kratos: ctx.kratos };
  const dataFile = bodyFile(ctx, name, body);
  const measure = async (seconds: number): Promise<Measured> => {
    await warmUpH2load(server, dataFile, ctx.workdir, warmupRequests, connections, streamsPerConnection);
    return measureH2load(bracket, dataFile, ctx.workdir, {
      clients: connections,
      streams: streamsPerConnection,
      durationSeconds: seconds,
    });
  };
  return { name, client: 'h2load', bracket, pool: [body], measure, runs: [] };
}

/**
 * miss: the raw client cycling through a pool of cookies far larger than the requests in flight.
 * With one cookie (h2load), concurrent checks would share one whoami through the service's
 * single-flight, which runs even with the cache off, and the scenario would not be all misses.
 */
function missTarget(ctx: BenchContext, server: ServerProcess, pool: Buffer[]): RoundTarget {
  const { connections, streamsPerConnection, warmupRequests } = ctx.settings;
  const bracket = { server, kratos: ctx.kratos };
  const order = Uint32Array.from(pool.keys());
  const measure = async (seconds: number): Promise<Measured> => {
    await measureRaw(bracket, {
      bodies: pool,
      order: Uint32Array.from({ length: warmupRequests }, (_, i) => i % pool.length),
      connections,
      streamsPerConnection,
    });
    return measureRaw(bracket, { bodies: pool, order, connections, streamsPerConnection, durationSeconds: seconds });
  };
  return { name: 'miss', client: 'raw-h2 (Node)', bracket, pool, measure, runs: [] };
}

async function runRound(ctx: BenchContext, target: RoundTarget): Promise<void> {
  const run = await target.measure(ctx.settings.roundSeconds);
  run.problems.push(...validity(target, run));
  target.runs.push(run);
}

function roundsResult(ctx: BenchContext, target: RoundTarget, floor: RoundTarget): ScenarioResult {
  const perRound = target.runs.map((run) => run.checksPerSecond);
  const ratios = target.runs.map(
    (run, index) => run.checksPerSecond / (floor.runs[index]?.checksPerSecond ?? Number.NaN),
  );
  const { facts, notes } = runFacts(target.runs);
  return result(target.name, {
    client: target.client,
    load: `${saturating(ctx.settings)}; median of ${ctx.settings.rounds} × ${ctx.settings.roundSeconds} s rounds`,
    checksPerSecond: median(perRound),
    latency: summarizeMicros(concatDurations(target.runs.map((run) => run.durationsUs))),
    rssBytes: rssBytes(target.bracket.server.pid),
    ratioToFloor: median(ratios),
    facts: {
      checksPerRound: perRound.map(Math.round),
      ratioPerRound: ratios.map((r) => Math.round(r * 1000) / 1000),
      ...facts,
    },
    notes,
    problems: target.runs.flatMap((run) => run.problems),
  });
}

function fixedRateResult(
  name: string,
  target: RoundTarget,
  run: Measured,
  client: LoadClient,
  load: string,
): ScenarioResult {
  run.problems.push(...validity(target, run));
  return result(name, {
    client,
    load: `${load}, on ${target.name}`,
    checksPerSecond: run.checksPerSecond,
    latency: summarizeMicros(run.durationsUs),
    rssBytes: rssBytes(target.bracket.server.pid),
    ratioToFloor: undefined,
    ...runFacts([run]),
    problems: run.problems,
  });
}

/**
 * Fixed rate (latency without queueing) from the raw client's open loop: requests start on a
 * 1 ms clock, round-robin over the connections, whatever the answers do. Not h2load --rps: it
 * clocks at most every 10 ms (rps_watcher.repeat = max(0.01, 1/rps)), so at 1000/s per
 * connection it sends bursts of 10, and its latencies measure the queue behind each burst.
 */
async function fixedRate(
  ctx: BenchContext,
  name: string,
  target: RoundTarget,
  rate: number,
  seconds: number,
): Promise<ScenarioResult> {
  const { connections, streamsPerConnection, warmupRequests } = ctx.settings;
  const order = Uint32Array.from(target.pool.keys());
  const warmUp = Uint32Array.from({ length: warmupRequests }, (_, i) => i % target.pool.length);
  await measureRaw(target.bracket, { bodies: target.pool, order: warmUp, connections, streamsPerConnection });
  const run = await measureRaw(target.bracket, {
    bodies: target.pool,
    order,
    connections,
    streamsPerConnection,
    durationSeconds: seconds,
    ratePerSecond: rate,
  });
  return fixedRateResult(
    name,
    target,
    run,
    'raw-h2 (Node)',
    `${rate} checks/s open loop for ${seconds} s over ${connections} conn`,
  );
}

/** The brief's h2load --rps run, kept for comparison with `latency` (see fixedRate for why it differs). */
async function fixedRateH2load(
  ctx: BenchContext,
  name: string,
  target: RoundTarget,
  rate: number,
  seconds: number,
): Promise<ScenarioResult> {
  const { connections, streamsPerConnection, warmupRequests } = ctx.settings;
  const dataFile = bodyFile(ctx, name, target.pool[0] as Buffer);
  await warmUpH2load(target.bracket.server, dataFile, ctx.workdir, warmupRequests, connections, streamsPerConnection);
  const run = await measureH2load(target.bracket, dataFile, ctx.workdir, {
    clients: connections,
    streams: streamsPerConnection,
    durationSeconds: seconds,
    ratePerClient: Math.round(rate / connections),
  });
  const perTick = Math.round(rate / connections / 100);
  return fixedRateResult(
    name,
    target,
    run,
    'h2load',
    `h2load --rps ${Math.round(rate / connections)} × ${connections} conn for ${seconds} s (bursts of ${perTick} per connection every 10 ms)`,
  );
}

async function missLatencyResult(ctx: BenchContext, miss: RoundTarget, cookie: string): Promise<ScenarioResult> {
  const s = ctx.settings;
  const scenario = await fixedRate(ctx, 'miss-latency', miss, s.missLatencyRate, s.missLatencySeconds);
  const kratosP50 = summarizeMicros(
    await whoamiLatency(ctx.kratos.publicUrl, [{ cookie }], s.smoke ? 50 : 1_000),
  ).p50Ms;
  scenario.facts['emulatorWhoamiP50Ms'] = kratosP50;
  scenario.facts['overMeasuredKratosMs'] = scenario.latency.p50Ms - kratosP50;
  scenario.notes.push(
    `emulator whoami alone (driver → emulator, keep-alive): p50 ${kratosP50.toFixed(2)} ms for a nominal ${s.missKratosMs} ms (Node timer granularity); ` +
      `miss p50 − that = ${(scenario.latency.p50Ms - kratosP50).toFixed(2)} ms`,
  );
  return scenario;
}

/** floor, hit and miss in alternating rounds, then the fixed-rate latency runs on hit and miss. */
export async function roundsPhase(ctx: BenchContext): Promise<ScenarioResult[]> {
  const s = ctx.settings;
  await ctx.kratos.setLatency(s.missKratosMs);
  const hitBody = await ctx.sessions.newBody();
  const missPool = await ctx.sessions.newBodies(s.smoke ? 100 : 1_000);
  const missCookie = await ctx.sessions.newCookie();
  const floorServer = await startFloorServer();
  const hitServer = await startService(writeServiceConfig(ctx.workdir, 'hit', ctx.kratos, 'on'), ctx.serviceNodeFlags);
  const missServer = await startService(
    writeServiceConfig(ctx.workdir, 'miss', ctx.kratos, 'off'),
    ctx.serviceNodeFlags,
  );
  try {
    const floor = h2loadTarget(ctx, 'floor', floorServer, hitBody);
    const hit = h2loadTarget(ctx, 'hit', hitServer, hitBody);
    const miss = missTarget(ctx, missServer, missPool);
    for (let round = 0; round < s.rounds; round++) {
      for (const each of [floor, hit, miss]) await runRound(ctx, each);
    }
    const results = [floor, hit, miss].map((each) => roundsResult(ctx, each, floor));
    results.push(await fixedRate(ctx, 'latency', hit, s.latencyRate, s.latencySeconds));
    // The same fixed rate on the floor: the p99 this machine and stack allow at all (a control).
    results.push(await fixedRate(ctx, 'floor-latency', floor, s.latencyRate, s.latencySeconds));
    results.push(await fixedRateH2load(ctx, 'latency-h2load', hit, s.latencyRate, s.latencySeconds));
    results.push(await missLatencyResult(ctx, miss, missCookie));
    return results;
  } finally {
    await Promise.all([floorServer, hitServer, missServer].map((server) => server.stop()));
  }
}

// ------------------------------------------------------------------ mixed / burst / memory

/** mulberry32: a seeded PRNG, so every run sends the same request order. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The order of a mixed run: each session's first check is its miss, spread evenly over the run
 * (the first `window` checks all introduce sessions, as none is old enough to hit yet); every
 * other check repeats a session introduced at least `window` checks earlier, so its whoami has
 * returned and the repeat is a hit rather than joining the in-flight call.
 */
export function mixedOrder(total: number, sessions: number, window: number, seed = 1): Uint32Array {
  const order = new Uint32Array(total);
  const introducedAt = new Float64Array(sessions);
  const head = Math.min(window, sessions, total);
  const random = seededRandom(seed);
  let introduced = 0;
  let eligible = 0;
  for (let position = 0; position < total; position++) {
    const due =
      position < head
        ? position + 1
        : head + Math.floor(((position - head + 1) * (sessions - head)) / Math.max(1, total - head));
    if (introduced < due && introduced < sessions) {
      introducedAt[introduced] = position;
      order[position] = introduced++;
      continue;
    }
    while (eligible < introduced && (introducedAt[eligible] as number) <= position - window) eligible++;
    order[position] = Math.floor(random() * Math.max(1, eligible));
  }
  return order;
}

function rawResult(name: string, server: ServerProcess, run: Measured, load: string): ScenarioResult {
  return result(name, {
    client: 'raw-h2 (Node)',
    load,
    checksPerSecond: run.checksPerSecond,
    latency: summarizeMicros(run.durationsUs),
    rssBytes: rssBytes(server.pid),
    ratioToFloor: undefined,
    ...runFacts([run]),
    problems: [...run.problems],
  });
}

/** Untimed raw-client requests with one body, to warm a server up. */
async function warmUpRaw(ctx: BenchContext, server: ServerProcess, body: Buffer): Promise<void> {
  const { connections, streamsPerConnection, warmupRequests } = ctx.settings;
  const run = await measureRaw(
    { server, kratos: ctx.kratos },
    { bodies: [body], order: new Uint32Array(warmupRequests), connections, streamsPerConnection },
  );
  if (run.problems.length > 0) throw new Error(`warm-up: ${run.problems.join('; ')}`);
}

/**
 * 90% hits / 10% misses over `mixedSessions` sessions, driven by the raw client (every request
 * has its own cookie). Its ratio is to the floor measured by the same client just before.
 */
export async function mixedPhase(ctx: BenchContext): Promise<ScenarioResult[]> {
  const s = ctx.settings;
  const load = saturating(s);
  const plan = { connections: s.connections, streamsPerConnection: s.streamsPerConnection };
  await ctx.kratos.setLatency(s.missKratosMs);
  const hotBody = await ctx.sessions.newBody();
  const bodies = await ctx.sessions.newBodies(s.mixedSessions);
  const order = mixedOrder(s.mixedChecks, s.mixedSessions, 4 * s.connections * s.streamsPerConnection);

  const floorServer = await startFloorServer();
  let floorRaw: Measured;
  try {
    await warmUpRaw(ctx, floorServer, hotBody);
    floorRaw = await measureRaw(
      { server: floorServer, kratos: ctx.kratos },
      { ...plan, bodies: [hotBody], order: new Uint32Array(s.mixedChecks) },
    );
  } finally {
    await floorServer.stop();
  }

  const server = await startService(writeServiceConfig(ctx.workdir, 'mixed', ctx.kratos, 'on'), ctx.serviceNodeFlags);
  try {
    await warmUpRaw(ctx, server, hotBody);
    const run = await measureRaw({ server, kratos: ctx.kratos }, { ...plan, bodies, order });
    const mixed = rawResult('mixed', server, run, `${load}; ${s.mixedChecks} checks over ${s.mixedSessions} sessions`);
    mixed.ratioToFloor = run.checksPerSecond / floorRaw.checksPerSecond;
    mixed.facts['floorRawChecksPerSecond'] = Math.round(floorRaw.checksPerSecond);
    mixed.notes.push(
      `ratio is to the floor driven by the same raw client just before: ${Math.round(floorRaw.checksPerSecond)} checks/s`,
    );
    mixed.notes.push(
      `cache: ${run.cache.hit} hits, ${run.cache.miss} misses, ${run.cache.coalesced} coalesced; ${run.whoami} whoami calls`,
    );
    mixed.problems.push(...floorRaw.problems.map((problem) => `floor (raw client): ${problem}`));
    if (run.whoami !== s.mixedSessions)
      mixed.problems.push(`${run.whoami} whoami calls for ${s.mixedSessions} sessions`);
    return [mixed];
  } finally {
    await server.stop();
  }
}

/** `burstChecks` simultaneous checks with one new cookie while Kratos takes `burstKratosMs`. */
export async function burstPhase(ctx: BenchContext): Promise<ScenarioResult[]> {
  const s = ctx.settings;
  const server = await startService(writeServiceConfig(ctx.workdir, 'burst', ctx.kratos, 'on'), ctx.serviceNodeFlags);
  try {
    await ctx.kratos.setLatency(s.missKratosMs);
    await warmUpH2load(
      server,
      bodyFile(ctx, 'burst-warm', await ctx.sessions.newBody()),
      ctx.workdir,
      s.warmupRequests,
      s.connections,
      s.streamsPerConnection,
    );
    await ctx.kratos.setLatency(s.burstKratosMs);
    // One connection carrying every check at once, as one Envoy worker would.
    const run = await measureH2load(
      { server, kratos: ctx.kratos },
      bodyFile(ctx, 'burst', await ctx.sessions.newBody()),
      ctx.workdir,
      { clients: 1, streams: s.burstChecks, requests: s.burstChecks },
    );
    const burst = result('burst', {
      client: 'h2load',
      load: `${s.burstChecks} simultaneous checks, one new cookie, Kratos ${s.burstKratosMs} ms`,
      checksPerSecond: run.checksPerSecond,
      latency: summarizeMicros(run.durationsUs),
      rssBytes: rssBytes(server.pid),
      ratioToFloor: undefined,
      ...runFacts([run]),
      problems: run.problems,
    });
    burst.notes.unshift(
      `whoami calls: ${run.whoami}; cache: ${run.cache.miss} miss, ${run.cache.coalesced} coalesced, ${run.cache.hit} hits`,
    );
    return [burst];
  } finally {
    await server.stop();
  }
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The V8 flag of the comparison run: an old-space limit as high as V8's own default on this
 * machine, where the service's sizing is out of the way (an explicit flag wins over it).
 */
export const UNBOUNDED_HEAP_FLAGS = ['--max-old-space-size=4096'];

/**
 * RSS after `memorySessions` distinct sessions were cached: each checked once (a miss against an
 * instant Kratos), then the oldest re-checked to prove nothing was evicted. `memory` starts the
 * service as a user does (the bin, no Node flags, whatever --service-node-flags says: the heap
 * is the service's own sizing); `memory-unbounded` the same with V8's default-sized heap, for
 * the throughput and RSS the sizing is compared with.
 */
export async function memoryPhase(ctx: BenchContext): Promise<ScenarioResult[]> {
  const sized = await memoryRun(ctx, 'memory', []);
  const unbounded = await memoryRun(ctx, 'memory-unbounded', UNBOUNDED_HEAP_FLAGS);
  const cpu = (run: ScenarioResult) => run.facts['serverCpuUsPerCheck'];
  const [sizedCpu, unboundedCpu] = [cpu(sized), cpu(unbounded)];
  const cpuRatio =
    typeof sizedCpu === 'number' && typeof unboundedCpu === 'number' ? sizedCpu / unboundedCpu : Number.NaN;
  Object.assign(sized.facts, {
    fillRatioToUnbounded: sized.checksPerSecond / unbounded.checksPerSecond,
    cpuRatioToUnbounded: cpuRatio,
  });
  sized.notes.push(
    `against \`memory-unbounded\` (${UNBOUNDED_HEAP_FLAGS.join(' ')}): fill checks/s ${(sized.checksPerSecond / unbounded.checksPerSecond).toFixed(3)}×, server CPU per check ${cpuRatio.toFixed(3)}×, RSS ${mb(sized.rssBytes ?? Number.NaN)} vs ${mb(unbounded.rssBytes ?? Number.NaN)} MiB`,
  );
  return [sized, unbounded];
}

async function memoryRun(
  ctx: BenchContext,
  name: 'memory' | 'memory-unbounded',
  nodeFlags: string[],
): Promise<ScenarioResult> {
  const s = ctx.settings;
  // The fill only has to get every session cached: a gentler load than the saturating runs.
  const plan = { connections: 1, streamsPerConnection: 8 };
  const bodies = await ctx.sessions.newBodies(s.memorySessions);
  const hotBody = await ctx.sessions.newBody();
  const server = await startService(writeServiceConfig(ctx.workdir, name, ctx.kratos, 'on'), nodeFlags);
  try {
    await ctx.kratos.setLatency(0);
    await warmUpRaw(ctx, server, hotBody);
    await settle(500);
    const baseline = rssBytes(server.pid) ?? Number.NaN;
    const baselineHeap = await heapUsed(server);
    // A Kratos stall on the shared load core over a long fill costs a few sessions, not the measurement.
    const tolerated = Math.ceil(s.memorySessions / 1_000);
    const fill = await measureRaw(
      { server, kratos: ctx.kratos },
      { ...plan, bodies, order: Uint32Array.from(bodies.keys()) },
      tolerated,
    );
    const oldest = Math.min(1_000, s.memorySessions);
    const recheck = await measureRaw(
      { server, kratos: ctx.kratos },
      { ...plan, bodies, order: Uint32Array.from({ length: oldest }, (_, i) => i) },
      tolerated,
    );
    await settle(1_000);
    const memory = rawResult(
      name,
      server,
      fill,
      `${s.memorySessions} distinct sessions, each checked once (Kratos 0 ms), ${nodeFlags.length === 0 ? 'started as shipped (the bin, no Node flags)' : `started with \`node ${nodeFlags.join(' ')}\``}`,
    );
    const rss = memory.rssBytes ?? Number.NaN;
    const heap = await heapUsed(server);
    Object.assign(memory.facts, {
      baselineRssBytes: baseline,
      baselineHeapUsedBytes: baselineHeap.used,
      heapUsedBytes: heap.used,
      heapTotalBytes: heap.total,
      externalBytes: heap.external,
      heapSizeLimitBytes: server.heapSizeLimitBytes ?? Number.NaN,
      rssBytesPerSession: Math.round((rss - baseline) / s.memorySessions),
    });
    memory.notes.push(
      `RSS ${mb(baseline)} MiB before the fill, ${mb(rss)} MiB after (${Math.round((rss - baseline) / s.memorySessions)} bytes per session)`,
    );
    memory.notes.push(
      `V8 heap used ${mb(baselineHeap.used)} → ${mb(heap.used)} MiB of ${mb(heap.total)} MiB allocated, limit ${mb(server.heapSizeLimitBytes ?? Number.NaN)} MiB (heap_size_limit as the service logged it); external ${mb(heap.external)} MiB`,
    );
    memory.notes.push(
      `checks/s and latency are of the fill (${plan.connections} conn × ${plan.streamsPerConnection} streams): every check a miss against an instant Kratos`,
    );
    const cached = fill.allowed;
    if (fill.kratosUnavailable > 0)
      memory.notes.push(`${cached} sessions cached: ${fill.kratosUnavailable} whoami calls timed out during the fill`);
    if (fill.whoami !== s.memorySessions)
      memory.problems.push(`${fill.whoami} whoami calls for ${s.memorySessions} sessions`);
    // Re-checking the oldest: an evicted one would be a miss; one that timed out in the fill may be too.
    if (recheck.cache.hit < oldest - fill.kratosUnavailable)
      memory.problems.push(
        `re-checking the ${oldest} oldest sessions gave ${recheck.cache.hit} hits and ${recheck.whoami} whoami calls (evicted?)`,
      );
    memory.problems.push(...recheck.problems);
    return memory;
  } finally {
    await server.stop();
  }
}

async function heapUsed(server: ServerProcess): Promise<{ used: number; total: number; external: number }> {
  const metrics = server.httpPort === undefined ? new Map<string, number>() : await scrapeMetrics(server.httpPort);
  return {
    used: metrics.get('nodejs_heap_size_used_bytes') ?? Number.NaN,
    total: metrics.get('nodejs_heap_size_total_bytes') ?? Number.NaN,
    external: metrics.get('nodejs_external_memory_bytes') ?? Number.NaN,
  };
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
