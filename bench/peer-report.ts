/** The peer phase's tables: issue 21's figures side by side, with this service / Heimdall ratios. */
import type { MeasuredPeerPhase, PeerCoreRun, PeerReport, PeerRun, PeerVariant, PeerVariantName } from './peer-result';
import type { LatencySummary } from './stats';

const COLUMNS: Array<[PeerVariantName, string]> = [
  ['envoy-alone', 'Envoy alone'],
  ['service-grpc', 'this service, gRPC'],
  ['service-http', 'this service, http_service'],
  ['service-grpc-workers', 'this service, gRPC, a worker a core'],
  ['heimdall', 'Heimdall'],
  ['heimdall-access-log', 'Heimdall, access log on'],
];
/** The ratio columns: each of this service's doors over Heimdall as its docs' example runs it, log off. */
const RATIOS: Array<[PeerVariantName, string]> = [
  ['service-grpc', 'gRPC / Heimdall'],
  ['service-http', 'http / Heimdall'],
  ['service-grpc-workers', 'gRPC workers / Heimdall'],
];
const QUANTILES: Array<[keyof LatencySummary, string]> = [
  ['p50Ms', 'p50'],
  ['p99Ms', 'p99'],
  ['p999Ms', 'p99.9'],
  ['maxMs', 'max'],
];

const fixed = (value: number | undefined, digits: number): string =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);

type Figure = (variant: PeerVariant, alone: PeerVariant | undefined) => number | undefined;

function rateRun(variant: PeerVariant | undefined, rate: number): PeerRun | undefined {
  return variant?.rates.find((each) => each.rate === rate)?.run;
}

/** The columns of the variants this core set ran (the workers variant runs on more than one core only). */
function shown(run: PeerCoreRun, columns: Array<[PeerVariantName, string]>): Array<[PeerVariantName, string]> {
  return columns.filter(([name]) => run.variants.some((variant) => variant.name === name));
}

function row(run: PeerCoreRun, label: string, digits: number, figure: Figure): string {
  const byName = new Map(run.variants.map((variant) => [variant.name, variant]));
  const alone = byName.get('envoy-alone');
  const value = (name: PeerVariantName): number | undefined => {
    const variant = byName.get(name);
    return variant ? figure(variant, alone) : undefined;
  };
  const heimdall = value('heimdall');
  const ratios = shown(run, RATIOS).map(([name]) => {
    const mine = value(name);
    return mine === undefined || heimdall === undefined || heimdall === 0 ? '–' : `**${fixed(mine / heimdall, 2)}**`;
  });
  return `| ${label} | ${shown(run, COLUMNS)
    .map(([name]) => fixed(value(name), digits))
    .join(' | ')} | ${ratios.join(' | ')} |`;
}

/** Latency a variant adds over Envoy alone at `rate` (a difference of percentiles); Envoy alone's row is its own. */
function addedAt(rate: number, quantile: keyof LatencySummary): Figure {
  return (variant, alone) => {
    const mine = rateRun(variant, rate)?.latency[quantile];
    if (mine === undefined || variant.name === 'envoy-alone') return mine;
    const base = rateRun(alone, rate)?.latency[quantile];
    return base === undefined ? undefined : mine - base;
  };
}

function coreTable(phase: MeasuredPeerPhase, run: PeerCoreRun): string[] {
  const rates = run.variants[0]?.rates.map((each) => each.rate) ?? [];
  const authzOnly =
    (figure: Figure): Figure =>
    (variant, alone) =>
      variant.name === 'envoy-alone' ? undefined : figure(variant, alone);
  const columns = shown(run, COLUMNS);
  const ratios = shown(run, RATIOS);
  const workers = columns.some(([name]) => name === 'service-grpc-workers')
    ? `; this service as one process and with \`server.workers: ${run.cores.length}\` (CPU and RSS: the primary and its workers together)`
    : '';
  return [
    `### ${run.cores.length} core${run.cores.length > 1 ? 's' : ''} (cores ${run.cores.join(',')}; Envoy --concurrency ${run.cores.length}${workers}; load average ${run.loadAverage.start.toFixed(2)} → ${run.loadAverage.end.toFixed(2)})`,
    '',
    `| figure | ${columns.map(([, label]) => label).join(' | ')} | ${ratios.map(([, label]) => label).join(' | ')} |`,
    `|---|${columns.map(() => '---:').join('|')}|${ratios.map(() => '---:').join('|')}|`,
    row(run, 'saturating throughput, req/s (`h2load -c 8 -m 8`)', 0, (variant) => variant.saturating.requestsPerSecond),
    row(run, 'authorization CPU per check at saturation, µs', 0, (variant) => variant.saturating.authzCpuUsPerCheck),
    row(run, 'RSS after the runs, MiB', 0, (variant) => variant.rssMiB),
    ...rates.flatMap((rate) =>
      QUANTILES.map(([quantile, label]) =>
        row(run, `added ${label} at ${rate} req/s, ms (Envoy alone: its own)`, 2, addedAt(rate, quantile)),
      ),
    ),
    ...rates.map((rate) =>
      row(
        run,
        `authorization CPU per check at ${rate} req/s, µs`,
        0,
        authzOnly((variant) => rateRun(variant, rate)?.authzCpuUsPerCheck),
      ),
    ),
    row(
      run,
      `${phase.burstChecks} simultaneous checks on a new cookie: whoami calls`,
      0,
      authzOnly((variant) => variant.burstWhoami),
    ),
    row(
      run,
      `… of which answered 200 within Envoy's 200 ms timeout`,
      0,
      authzOnly((variant) => variant.burstAnswered),
    ),
    '',
  ];
}

export function renderPeerMarkdown(report: PeerReport): string[] {
  const lines = ['## Against Heimdall through the same Envoy', ''];
  if ('skipped' in report) return [...lines, `Skipped: ${report.skipped}`, ''];
  lines.push(
    `Envoy ${report.envoy}, Heimdall ${report.heimdall} (bench/heimdall/), ${report.rounds} alternating round(s); one aal2 cookie, one route, three identity headers upstream, cache TTL 300 s for both. Figures are medians (throughput) or over every round's requests (latency). See bench/README.md, "Against Heimdall".`,
    '',
  );
  for (const run of report.coreRuns) lines.push(...coreTable(report, run));
  return lines;
}

export function peerProblems(report: PeerReport | undefined): string[] {
  if (!report || 'skipped' in report) return [];
  return report.coreRuns.flatMap((run) =>
    run.variants.flatMap((variant) =>
      variant.problems.map((problem) => `peer ${variant.name} (cores ${run.cores.join(',')}): ${problem}`),
    ),
  );
}
