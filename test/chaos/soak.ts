// `make soak`: SOAK_MINUTES (default 20) at SOAK_RATE (default 1000) rps through the real Envoy
// with a rotating set of sessions (a new valid session replaces the oldest every 30 s), sampling
// the service's RSS, heap and active handles (its /metrics) each 10 s. Prints the first and last
// five minutes (a fifth of the run when shorter) and fails on any unexpected answer.
import { EXT_AUTHZ, startLocalStack } from '../../stack/local-stack';
import { installBinaries } from '../../stack/versions';
import { rssMiB } from './grpc-abuse';
import { countByKind, formatCounts, Load, roundRobin, type Credential } from './load';
import { credentialMix, VERIFIABLE } from './sessions';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 20);
const RATE = Number(process.env.SOAK_RATE ?? 1000);

interface Sample {
  rss: number;
  heap: number;
  handles: number;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(line?.split(' ').pop() ?? NaN);
}

const mean = (xs: number[]): number => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1));

async function main(): Promise<void> {
  const outcome = installBinaries();
  if (!outcome.installed) throw new Error(`npm run stack:install first: ${outcome.missing.join('; ')}`);
  const [envoy] = outcome.binaries.envoy;
  if (!envoy) throw new Error('no Envoy installed');
  const stack = await startLocalStack({
    envoy,
    kratos: outcome.binaries.kratos,
    serviceOverrides: { log: { level: 'warn' } },
  });
  try {
    const pid = stack.children.pid(EXT_AUTHZ);
    if (pid === undefined) throw new Error('the service is not running');
    const metricsUrl = `http://127.0.0.1:${stack.ports.extAuthzHttp}/metrics`;
    const pool: Credential[] = (await credentialMix(stack.baseUrl, stack.kratosAdminUrl, 4, 0)).all;
    const durationMs = MINUTES * 60_000;
    const load = new Load({ baseUrl: stack.baseUrl, ratePerSecond: RATE, durationMs, credential: roundRobin(pool) });
    const running = load.run();
    const samples: Sample[] = [];
    const started = Date.now();
    let rotated = 0;
    while (Date.now() - started < durationMs) {
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      samples.push({
        rss: rssMiB(pid),
        heap: Math.round((await metric(metricsUrl, 'nodejs_heap_size_used_bytes')) / 1024 / 1024),
        handles: await metric(metricsUrl, 'nodejs_active_handles_total'),
      });
      if (samples.length % 3 === 0) {
        // Rotation: the first valid session gives way to a new one, as users come and go.
        const fresh = (await credentialMix(stack.baseUrl, stack.kratosAdminUrl, 1, 0)).all;
        const oldest = pool.findIndex((c) => c.kind === VERIFIABLE);
        pool.splice(oldest, 1);
        pool.push(...fresh.filter((c) => c.kind === VERIFIABLE).slice(0, 1));
        rotated++;
      }
    }
    const result = await running;
    const window = Math.max(1, Math.min(30, Math.floor(samples.length / 5)));
    const first = samples.slice(0, window);
    const last = samples.slice(-window);
    const unexpected = result.answers.filter((a) => a.status !== (a.kind === VERIFIABLE ? 200 : 401)).length;
    const line = (what: string, s: Sample[]): string =>
      `${what}: RSS ${mean(s.map((x) => x.rss))} MiB, heap ${mean(s.map((x) => x.heap))} MiB, handles ${mean(s.map((x) => x.handles))}`;
    console.log(
      `soak: ${result.answers.length} requests in ${MINUTES} min at ${RATE}/s, ${rotated} session rotations, ${result.shed} shed; ${formatCounts(countByKind(result.answers))}`,
    );
    console.log(`soak: ${line(`first ${window * 10}s`, first)}; ${line(`last ${window * 10}s`, last)}`);
    console.log(`soak: ${unexpected} unexpected answers`);
    if (unexpected > 0 || result.shed > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

void main();
