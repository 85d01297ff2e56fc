/**
 * What tracing costs a cached check: the `hit` load (h2load, one cookie, cache on) against three
 * services alike but for `tracing`, in alternating rounds: off; on with no check sampled
 * (sampling_ratio 0: the price of having it on at a low rate); on with every check sampled (a
 * root trace, sampling_ratio 1: the most it can cost), spans exported over OTLP/HTTP to a sink in
 * the driver that answers 200 and keeps nothing. Reported per variant: checks/s and the server's
 * CPU time per check, and that time's difference to off.
 *
 *   node dist/bench/tracing-scenario.js [--smoke]     this phase alone (prints its results as JSON)
 *
 * `tracingPhase` has the phases' shape (scenarios.ts), for run.ts's PHASES.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeServiceConfig } from './fixtures';
import { KratosProcess } from './kratos-process';
import { measureH2load, warmUpH2load, type Measured } from './measure';
import { pinSelfToLoadCore, rssBytes, startService, type ServerProcess } from './processes';
import type { ScenarioResult } from './result';
import { createContext, type BenchContext } from './scenarios';
import { FULL, SMOKE } from './settings';
import { concatDurations, median, summarizeMicros } from './stats';

const VARIANTS = ['tracing-off', 'tracing-unsampled', 'tracing-on'] as const;
type Variant = (typeof VARIANTS)[number];

const NOTES: Readonly<Record<Variant, string>> = {
  'tracing-off': 'tracing.enabled: false (the default)',
  'tracing-unsampled': 'tracing on, no check sampled (sampling_ratio 0): the context work without a span exported',
  'tracing-on': 'every check sampled (root traces, sampling_ratio 1), exported over OTLP/HTTP protobuf to a sink',
};

/** An OTLP/HTTP endpoint that accepts every export and drops it: the exporter's full work, no collector's. */
async function startSink(): Promise<{ url: string; exports: () => number; close: () => Promise<void> }> {
  let exports = 0;
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      exports++;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports: () => exports,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The `hit` scenario's service config, with `tracing` added. */
function configWithTracing(ctx: BenchContext, name: Variant, tracing: Record<string, unknown>): string {
  const path = writeServiceConfig(ctx.workdir, name, ctx.kratos, 'on');
  writeFileSync(
    path,
    JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>), tracing }, null, 2),
  );
  return path;
}

export async function tracingPhase(ctx: BenchContext): Promise<ScenarioResult[]> {
  const s = ctx.settings;
  const sink = await startSink();
  const dataFile = join(ctx.workdir, 'tracing-hit.bin');
  writeFileSync(dataFile, await ctx.sessions.newBody());
  const servers: Record<Variant, ServerProcess> = {
    'tracing-off': await startService(configWithTracing(ctx, 'tracing-off', { enabled: false }), ctx.serviceNodeFlags),
    'tracing-unsampled': await startService(
      configWithTracing(ctx, 'tracing-unsampled', { enabled: true, endpoint: sink.url, sampling_ratio: 0 }),
      ctx.serviceNodeFlags,
    ),
    'tracing-on': await startService(
      configWithTracing(ctx, 'tracing-on', { enabled: true, endpoint: sink.url, sampling_ratio: 1 }),
      ctx.serviceNodeFlags,
    ),
  };
  const runs: Record<Variant, Measured[]> = { 'tracing-off': [], 'tracing-unsampled': [], 'tracing-on': [] };
  try {
    for (let round = 0; round < s.rounds; round++) {
      for (const variant of VARIANTS) {
        const server = servers[variant];
        await warmUpH2load(server, dataFile, ctx.workdir, s.warmupRequests, s.connections, s.streamsPerConnection);
        runs[variant].push(
          await measureH2load({ server, kratos: ctx.kratos }, dataFile, ctx.workdir, {
            clients: s.connections,
            streams: s.streamsPerConnection,
            durationSeconds: s.roundSeconds,
          }),
        );
      }
    }
    const offCpu = cpuUsPerCheck(runs['tracing-off']);
    return VARIANTS.map((variant) => {
      const measured = runs[variant];
      const cpu = cpuUsPerCheck(measured);
      const problems = measured.flatMap((run) => run.problems);
      if (measured.some((run) => run.cache.hit < run.allowed)) problems.push('not every check was a cache hit');
      if (variant === 'tracing-on' && sink.exports() === 0) problems.push('no span was exported');
      return {
        name: variant,
        client: 'h2load',
        load: `${s.connections} conn × ${s.streamsPerConnection} streams, saturating; median of ${s.rounds} × ${s.roundSeconds} s rounds, alternating`,
        checksPerSecond: median(measured.map((run) => run.checksPerSecond)),
        latency: summarizeMicros(concatDurations(measured.map((run) => run.durationsUs))),
        rssBytes: rssBytes(servers[variant].pid),
        ratioToFloor: undefined,
        facts: {
          serverCpuUsPerCheck: cpu,
          extraCpuUsPerCheck: Math.round((cpu - offCpu) * 10) / 10,
          ...(variant === 'tracing-on' ? { otlpExports: sink.exports() } : {}),
        },
        notes: [NOTES[variant]],
        problems,
      };
    });
  } finally {
    await Promise.all(Object.values(servers).map((each) => each.stop()));
    await sink.close();
  }
}

function cpuUsPerCheck(runs: readonly Measured[]): number {
  const cpuMs = runs.reduce((total, run) => total + run.serverCpuMs, 0);
  const checks = runs.reduce((total, run) => total + run.allowed, 0);
  return Math.round((cpuMs * 10_000) / Math.max(1, checks)) / 10;
}

async function main(): Promise<void> {
  pinSelfToLoadCore();
  const workdir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-bench-tracing-'));
  const kratos = await KratosProcess.start();
  try {
    const results = await tracingPhase(createContext(process.argv.includes('--smoke') ? SMOKE : FULL, kratos, workdir));
    process.stdout.write(
      `${JSON.stringify(results, (key, value: unknown) => (key === 'durationsUs' ? undefined : value), 2)}\n`,
    );
    if (results.some((result) => result.problems.length > 0)) process.exitCode = 1;
  } finally {
    await kratos.stop();
    rmSync(workdir, { recursive: true, force: true });
  }
}

if (require.main === module) void main();
