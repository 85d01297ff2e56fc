/** One measured run against one server, bracketed by the counters that prove what it measured. */
import { join } from 'node:path';
import type { WhoamiTally } from './fixtures';
import { runH2load, type H2loadResult, type H2loadRun } from './h2load';
import { runLoad, type LoadPlan, type LoadResult } from './h2-client';
import type { ServerProcess } from './processes';
import { scrapeMetrics, type Samples } from './prometheus';
import { checkDecisions, checkFloorAnswers, sessionCacheCounts, type CacheCounts } from './verify';

export interface Measured {
  checksPerSecond: number;
  durationsUs: Float64Array;
  allowed: number;
  whoami: number;
  cache: CacheCounts;
  problems: string[];
}

export interface Bracket {
  server: ServerProcess;
  whoami: WhoamiTally;
}

interface Snapshot {
  metrics: Samples | undefined;
  floorChecks: number | undefined;
  whoami: number;
}

async function snapshot({ server, whoami }: Bracket): Promise<Snapshot> {
  return {
    metrics: server.httpPort === undefined ? undefined : await scrapeMetrics(server.httpPort),
    floorChecks: server.httpPort === undefined ? await server.floorChecks() : undefined,
    whoami: whoami.total(),
  };
}

/** Runs `load` between two snapshots and checks the server answered exactly what the client saw. */
async function bracketed(
  bracket: Bracket,
  load: () => Promise<{ checksPerSecond: number; durationsUs: Float64Array; failed: number }>,
  slack: number,
): Promise<Measured> {
  const before = await snapshot(bracket);
  const run = await load();
  const after = await snapshot(bracket);
  const answered = run.durationsUs.length;
  const problems = run.failed > 0 ? [`${run.failed} requests failed at the HTTP/2 or gRPC level`] : [];
  const whoami = after.whoami - before.whoami;
  if (before.metrics && after.metrics) {
    const decisions = checkDecisions(before.metrics, after.metrics, answered, slack);
    const cache = sessionCacheCounts(before.metrics, after.metrics);
    return { ...run, allowed: decisions.allowed, whoami, cache, problems: [...problems, ...decisions.problems] };
  }
  const handled = (after.floorChecks ?? 0) - (before.floorChecks ?? 0);
  problems.push(...checkFloorAnswers(handled, answered, slack));
  return { ...run, allowed: handled, whoami, cache: { hit: 0, miss: 0, coalesced: 0, stale: 0 }, problems };
}

export interface H2loadShape {
  clients: number;
  streams: number;
  durationSeconds?: number;
  requests?: number;
  ratePerClient?: number;
}

/** h2load against the bracket's server with `dataFile` as every request's body. */
export function measureH2load(bracket: Bracket, dataFile: string, workdir: string, shape: H2loadShape): Promise<Measured> {
  const run: H2loadRun = { port: bracket.server.grpcPort, dataFile, logFile: join(workdir, 'h2load.log'), ...shape };
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
export async function warmUpH2load(server: ServerProcess, dataFile: string, workdir: string, requests: number, clients: number, streams: number): Promise<void> {
  const result = await runH2load({ port: server.grpcPort, dataFile, logFile: join(workdir, 'warmup.log'), clients, streams, requests });
  if (result.non200 > 0 || result.durationsUs.length !== requests) throw new Error(`warm-up: ${result.non200} of ${requests} requests failed`);
}

/** Our raw HTTP/2 client, for runs where each request carries a different body. */
export function measureRaw(bracket: Bracket, plan: Omit<LoadPlan, 'port'>): Promise<Measured> {
  return bracketed(
    bracket,
    async () => {
      const result: LoadResult = await runLoad({ ...plan, port: bracket.server.grpcPort });
      return { checksPerSecond: result.succeeded / result.elapsedSeconds, durationsUs: result.durationsUs, failed: result.failed };
    },
    0,
  );
}
