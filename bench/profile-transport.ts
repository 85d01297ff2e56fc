/**
 * A focused before/after probe of one door's per-call cost through the real Envoy: one service
 * (the dist this file was built into), every check a cache hit, a saturating run and a fixed-rate
 * run. It prints one JSON line, so a shell loop can alternate two builds (copy this file's dist
 * beside the other) on a shared machine, where only alternating rounds compare fairly.
 *
 *   node dist/bench/profile-transport.js [--door grpc|http] [--seconds 6] [--rate 2000]
 *                                        [--service-node-flags "<flags>"]
 *
 * GC counts and old-space growth come from the service's own prom-client metrics, read around
 * the fixed-rate run: a scavenge that promotes nothing leaves old space flat between
 * mark-compacts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installBinaries, pinnedVersions } from '../stack/versions';
import { startEnvoy } from './envoy-proxy';
import { processesForRate, runFleet, type FleetShape } from './envoy-load';
import { writeServiceConfig } from './fixtures';
import { KratosProcess } from './kratos-process';
import { cpuTimeMs, pinSelfToLoadCore, rssBytes, startService, type ServerProcess } from './processes';
import { counterDeltas, sampleKey, scrapeMetrics, type Samples } from './prometheus';
import { currentLoad } from './report';
import { summarizeMicros } from './stats';
import { CHECKS } from './verify';
import { UpstreamProcess } from './upstream-process';

interface Options {
  door: 'grpc' | 'http';
  seconds: number;
  rate: number;
  nodeFlags: string[];
}

function parseOptions(argv: string[]): Options {
  const options: Options = { door: 'grpc', seconds: 6, rate: 2_000, nodeFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1] ?? '';
    if (argv[i] === '--door' && (value === 'grpc' || value === 'http')) options.door = value;
    else if (argv[i] === '--seconds') options.seconds = Number(value);
    else if (argv[i] === '--rate') options.rate = Number(value);
    else if (argv[i] === '--service-node-flags') options.nodeFlags = value.split(' ').filter(Boolean);
    else throw new Error(`unknown argument ${String(argv[i])}`);
    i++;
  }
  return options;
}

const SATURATING_PROCESSES = 32;
const GC_SECONDS = 'nodejs_gc_duration_seconds_count';
const OLD_SPACE_USED = sampleKey('nodejs_heap_space_size_used_bytes', { space: 'old' });

function gcCount(samples: Samples, kind: string): number {
  return samples.get(sampleKey(GC_SECONDS, { kind })) ?? 0;
}

function checksBetween(before: Samples, after: Samples): number {
  return [...counterDeltas(before, after, CHECKS).values()].reduce((sum, n) => sum + n, 0);
}

async function measure(server: ServerProcess, run: () => Promise<Float64Array>) {
  const httpPort = server.httpPort as number;
  const before = await scrapeMetrics(httpPort);
  const cpuBefore = cpuTimeMs(server.pid) ?? Number.NaN;
  const started = performance.now();
  const durationsUs = await run();
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = (cpuTimeMs(server.pid) ?? Number.NaN) - cpuBefore;
  const after = await scrapeMetrics(httpPort);
  const checks = checksBetween(before, after);
  const latency = summarizeMicros(durationsUs);
  return {
    checks,
    checksPerSecond: Math.round(checks / seconds),
    cpuUsPerCheck: Math.round(((cpuMs * 1000) / checks) * 10) / 10,
    p50Ms: latency.p50Ms,
    p99Ms: latency.p99Ms,
    p999Ms: latency.p999Ms,
    maxMs: latency.maxMs,
    scavenges: gcCount(after, 'minor') - gcCount(before, 'minor'),
    markCompacts: gcCount(after, 'major') - gcCount(before, 'major'),
    oldSpaceGrowthMiB:
      Math.round((((after.get(OLD_SPACE_USED) ?? 0) - (before.get(OLD_SPACE_USED) ?? 0)) / 2 ** 20) * 10) / 10,
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const outcome = installBinaries();
  if (!outcome.installed) throw new Error(`missing ${outcome.missing.join(', ')}`);
  const newest = pinnedVersions().envoy.at(-1);
  const envoy = outcome.binaries.envoy.find((binary) => binary.version === newest);
  if (!envoy) throw new Error(`Envoy ${String(newest)} is not installed`);
  pinSelfToLoadCore();
  const workdir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-transport-'));
  const loadAtStart = currentLoad();
  const kratos = await KratosProcess.start();
  const upstream = await UpstreamProcess.start();
  const server = await startService(writeServiceConfig(workdir, 'service', kratos, 'on'), options.nodeFlags);
  try {
    const port = options.door === 'grpc' ? server.grpcPort : server.httpAuthzPort;
    if (port === undefined) throw new Error('the service logged no port for that door');
    const proxy = await startEnvoy(envoy, workdir, 'transport', upstream.port, { kind: options.door, port });
    try {
      const credentials = await kratos.newSessions(SATURATING_PROCESSES / 2);
      const fleet = async (shape: FleetShape) =>
        (await runFleet(proxy.baseUrl, credentials, shape, workdir)).durationsUs;
      await fleet({ processes: SATURATING_PROCESSES, requestsPerProcess: 300 });
      const saturating = await measure(server, () =>
        fleet({ processes: SATURATING_PROCESSES, seconds: options.seconds }),
      );
      const fixedRate = await measure(server, () =>
        fleet({ processes: processesForRate(options.rate), seconds: options.seconds, totalRate: options.rate }),
      );
      const line = {
        door: options.door,
        flags: options.nodeFlags.join(' '),
        load: `${loadAtStart} → ${currentLoad()}`,
        saturating,
        [`rate${options.rate}`]: fixedRate,
        rssMiB: Math.round((rssBytes(server.pid) ?? 0) / 2 ** 20),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } finally {
      await proxy.stop();
    }
  } finally {
    await server.stop();
    await upstream.stop();
    await kratos.stop();
    rmSync(workdir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
