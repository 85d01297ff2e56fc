/** The envoy-* tables: every figure beside the floor's, with the ratio. */
import type { EnvoyReport, EnvoyRun, EnvoyVariant, MeasuredEnvoyPhase } from './envoy-result';
import type { LatencySummary } from './stats';

type Quantile = 'p50Ms' | 'p90Ms' | 'p99Ms' | 'maxMs';
const QUANTILES: Array<[Quantile, string]> = [
  ['p50Ms', 'p50'],
  ['p90Ms', 'p90'],
  ['p99Ms', 'p99'],
  ['maxMs', 'max'],
];

const fixed = (value: number | undefined, digits: number): string =>
  value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);

/** `value (× ratio to the floor's)`, the ratio left out on the floor's own row. */
function besideFloor(value: number | undefined, floor: number | undefined, digits: number, isFloor: boolean): string {
  if (isFloor || value === undefined || floor === undefined || floor === 0) return fixed(value, digits);
  return `${fixed(value, digits)} (${fixed(value / floor, 2)}×)`;
}

function runAt(variant: EnvoyVariant | undefined, rate: number): EnvoyRun | undefined {
  return variant?.rates.find((each) => each.rate === rate)?.run;
}

/** The latency a variant adds over envoy-direct at the same rate, quantile by quantile. */
export function added(run: EnvoyRun | undefined, direct: EnvoyRun | undefined, quantile: Quantile): number | undefined {
  if (!run || !direct) return undefined;
  return run.latency[quantile] - direct.latency[quantile];
}

function throughputTable(phase: MeasuredEnvoyPhase): string[] {
  const floor = phase.variants.find((v) => v.name === 'envoy-floor');
  const lines = [
    '| variant | ext_authz answered by | req/s saturating | authz CPU s / 1000 checks (at saturation) |',
    '|---|---|---:|---:|',
  ];
  for (const v of phase.variants) {
    const isFloor = v === floor;
    const cpu = v.saturating.authzCpuSecondsPer1000;
    lines.push(
      `| \`${v.name}\` | ${v.authz} | ${besideFloor(v.saturating.checksPerSecond, floor?.saturating.checksPerSecond, 0, isFloor || v.name === 'envoy-direct')} | ${besideFloor(cpu, floor?.saturating.authzCpuSecondsPer1000, 3, isFloor)} |`,
    );
  }
  return lines;
}

function latencyTable(phase: MeasuredEnvoyPhase, rate: number): string[] {
  const direct = runAt(
    phase.variants.find((v) => v.name === 'envoy-direct'),
    rate,
  );
  const floor = runAt(
    phase.variants.find((v) => v.name === 'envoy-floor'),
    rate,
  );
  const lines = [
    `At ${rate} req/s: latency **added over \`envoy-direct\`** in ms (× the floor's addition); \`envoy-direct\`'s own latency in its row.`,
    '',
    `| variant | ${QUANTILES.map(([, label]) => label).join(' | ')} | authz CPU s / 1000 checks |`,
    `|---|${QUANTILES.map(() => '---:').join('|')}|---:|`,
  ];
  for (const v of phase.variants) {
    const run = runAt(v, rate);
    if (!run) continue;
    const isFloor = v.name === 'envoy-floor';
    const cells =
      v.name === 'envoy-direct'
        ? QUANTILES.map(([q]) => `${fixed(run.latency[q], 2)} (itself)`)
        : QUANTILES.map(([q]) => besideFloor(added(run, direct, q), added(floor, direct, q), 2, isFloor));
    lines.push(
      `| \`${v.name}\` | ${cells.join(' | ')} | ${besideFloor(run.authzCpuSecondsPer1000, floor?.authzCpuSecondsPer1000, 3, isFloor)} |`,
    );
  }
  return lines;
}

const summary = (latency: LatencySummary): string =>
  `p50 ${fixed(latency.p50Ms, 2)} ms, p90 ${fixed(latency.p90Ms, 2)} ms, p99 ${fixed(latency.p99Ms, 2)} ms`;

/**
 * The miss path's overhead at each fixed rate: the p50 it adds over envoy-direct minus Kratos's
 * own whoami p50, probed from the driver during the same run.
 */
function missOverheads(phase: MeasuredEnvoyPhase): string[] {
  const direct = phase.variants.find((v) => v.name === 'envoy-direct');
  const lines: string[] = [];
  for (const variant of phase.variants) {
    for (const { rate, run } of variant.rates) {
      const p50 = added(run, runAt(direct, rate), 'p50Ms');
      if (p50 === undefined || !run.kratosWhoami) continue;
      lines.push(
        `- \`${variant.name}\` at ${rate} req/s adds p50 ${fixed(p50, 2)} ms over \`envoy-direct\`; Kratos's own whoami during the run (driver → Kratos, one call every 20 ms, keep-alive) ${summary(run.kratosWhoami)}: the service's share of a miss (with Envoy's ext_authz hop) is **${fixed(p50 - run.kratosWhoami.p50Ms, 2)} ms** (target ≤ 0.5 ms).`,
      );
    }
  }
  return lines;
}

/** Stalls of the shared machine show as Envoy timeouts and Kratos timeouts: said, not hidden. */
function stalls(run: EnvoyRun): string {
  const parts: string[] = [];
  if (run.notOk > 0) parts.push(`${run.notOk} requests not answered 200 (Envoy's 200 ms ext_authz timeout)`);
  if (run.kratosUnavailable > 0) parts.push(`${run.kratosUnavailable} checks met a Kratos timeout (150 ms)`);
  return parts.length > 0 ? `; ${parts.join(', ')}` : '';
}

/** What the `envoy-peer-kratos` config (bench/envoy-peer-kratos.yaml) cannot do that the service does. */
const PEER_KRATOS_LIMITS =
  "`envoy-peer-kratos` (Envoy's HTTP ext_authz straight at Kratos's whoami, through a loopback listener of the same Envoy that rewrites the path to /sessions/whoami: http_service would append the request's path to it) cannot express: a different AAL for cookies and tokens (one global `session.whoami.required_aal`), per-path rules or anonymous paths, a cache (every request is a whoami: its CPU is Kratos's, and its database's), a login redirect for a browser (the client gets Kratos's 401/403 JSON), a 503 that tells Kratos down from a bad session, nor control over which credential counts (whoami takes X-Session-Token, then the cookie, then Authorization).";

export function renderEnvoyMarkdown(report: EnvoyReport): string[] {
  const lines = ['', '## Through the real Envoy', ''];
  if ('skipped' in report) return [...lines, `Not run: ${report.skipped}.`];
  const rates = report.variants[0]?.rates.map((r) => r.rate) ?? [];
  lines.push(
    `Envoy ${report.envoy} (\`--concurrency 1\`, ext_authz gRPC, timeout 200 ms, \`failure_mode_allow: false\`), real Kratos ${report.kratos} (SQLite, \`--dev\`) · authorization process pinned to core 0; Envoy, h2load, the upstream, the Kratos emulator and the real Kratos on core 1 · load average ${report.loadAverage.start} → ${report.loadAverage.end} · half the requests browser navigations (the Kratos cookie among four cookies), half API calls (\`Authorization: Bearer\` token) · the variants take turns in ${report.rounds} rounds: req/s is the median round, latency percentiles cover every round's requests · "added" is the variant's percentile minus envoy-direct's at the same rate`,
    '',
    ...throughputTable(report),
  );
  for (const rate of rates) lines.push('', ...latencyTable(report, rate));
  lines.push(
    '',
    ...missOverheads(report),
    '',
    '- Heimdall: the peer phase, "Against Heimdall through the same Envoy".',
    `- ${PEER_KRATOS_LIMITS}`,
  );
  for (const v of report.variants)
    for (const run of [v.saturating, ...v.rates.map((r) => r.run)])
      lines.push(
        `- \`${v.name}\`: ${run.load}${stalls(run)}${run.problems.length > 0 ? ` — **${run.problems.join('; ')}**` : ''}`,
      );
  return lines;
}

/** Every problem of the phase, prefixed with its variant. */
export function envoyProblems(report: EnvoyReport | undefined): string[] {
  if (!report || 'skipped' in report) return [];
  return report.variants.flatMap((v) =>
    [v.saturating, ...v.rates.map((r) => r.run)].flatMap((run) => run.problems.map((p) => `${v.name}: ${p}`)),
  );
}
