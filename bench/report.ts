/** The results as JSON and as the Markdown table the README shows, with the targets judged. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { renderEnvoyMarkdown } from './envoy-report';
import type { EnvoyReport } from './envoy-result';
import { renderPeerMarkdown } from './peer-report';
import type { PeerReport } from './peer-result';
import type { Jitter } from './jitter';
import type { ScenarioResult } from './result';
import type { BenchSettings } from './settings';

export interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  h2load: string;
  pinned: boolean;
  /** 1-minute load average when the run started and ended: above ~2 on 2 cores, something else was competing. */
  loadAverage: { start: number; end: number };
  /** Longest gap of an idle 1 ms timer per core before the run (see jitter.ts). */
  timerGaps: Jitter[];
}

export interface TargetResult {
  target: string;
  goal: string;
  measured: string;
  met: boolean | undefined;
}

export interface Report {
  generatedAt: string;
  /** The measured code: `git describe --always --dirty` of the checkout, if it is one. */
  revision: string;
  mode: 'full' | 'smoke';
  machine: Machine;
  requestBodyBytes: number;
  serviceNodeFlags: string[];
  settings: BenchSettings;
  scenarios: ScenarioResult[];
  /** The envoy-* scenarios, when that phase ran. */
  envoy?: EnvoyReport;
  /** This service against Heimdall through the same Envoy, when that phase ran. */
  peer?: PeerReport;
  targets: TargetResult[];
  problems: string[];
}

export function revision(directory: string): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], {
      cwd: directory,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

export function currentLoad(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

export function machine(h2load: string, pinned: boolean, loadAtStart: number, timerGaps: Jitter[]): Machine {
  const all = cpus();
  return {
    cpuModel: all[0]?.model.trim() ?? 'unknown',
    cores: all.length,
    node: process.version,
    h2load,
    pinned,
    loadAverage: { start: loadAtStart, end: currentLoad() },
    timerGaps,
  };
}

const MIB = 1024 * 1024;

function find(scenarios: ScenarioResult[], name: string): ScenarioResult | undefined {
  return scenarios.find((scenario) => scenario.name === name);
}

/** The issue's targets; `met` is undefined when the scenario did not run. */
/** Server CPU per check of floor over hit: what the throughput ratio would be on an idle machine. */
function cpuRatio(scenarios: ScenarioResult[]): string {
  const floor = find(scenarios, 'floor')?.facts['serverCpuUsPerCheck'];
  const hit = find(scenarios, 'hit')?.facts['serverCpuUsPerCheck'];
  if (typeof floor !== 'number' || typeof hit !== 'number') return '';
  return `; server CPU per check: floor ${floor} µs, hit ${hit} µs → ${(floor / hit).toFixed(2)}`;
}

export function judgeTargets(scenarios: ScenarioResult[], settings: BenchSettings): TargetResult[] {
  const hit = find(scenarios, 'hit');
  const latency = find(scenarios, 'latency');
  const floorLatency = find(scenarios, 'floor-latency');
  const handlerP99 = latency?.facts['handlerP99MsAtMost'];
  const miss = find(scenarios, 'miss-latency');
  const burst = find(scenarios, 'burst');
  const memory = find(scenarios, 'memory');
  const fillRatio = memory?.facts['fillRatioToUnbounded'];
  const fillCpuRatio = memory?.facts['cpuRatioToUnbounded'];
  // Over the emulator's measured whoami time: its nominal 1 ms is a Node timer that fires later.
  const kratos = miss?.facts['emulatorWhoamiP50Ms'];
  const overhead = miss && typeof kratos === 'number' ? miss.latency.p50Ms - kratos : undefined;
  const whoami = burst?.facts['whoami'];
  return [
    {
      target: 'hit throughput / floor throughput',
      goal: '≥ 0.90 (stretch ≥ 1.0)',
      measured:
        hit?.ratioToFloor === undefined
          ? '—'
          : `${hit.ratioToFloor.toFixed(2)}${hit.ratioToFloor >= 1 ? ' (stretch met)' : ''}${cpuRatio(scenarios)}`,
      met: hit?.ratioToFloor === undefined ? undefined : hit.ratioToFloor >= 0.9,
    },
    {
      target: `latency p99 at ${settings.latencyRate} checks/s, service handler time (what OPA-Envoy's 5.4 ms measures)`,
      goal: '≤ 2 ms',
      measured: typeof handlerP99 === 'number' ? `≤ ${handlerP99} ms (histogram bucket bound)` : '—',
      met: typeof handlerP99 === 'number' ? handlerP99 <= 2 : undefined,
    },
    {
      target: `latency p99 at ${settings.latencyRate} checks/s, end to end at the client`,
      goal: '≤ 2 ms',
      measured: latency
        ? `${latency.latency.p99Ms.toFixed(2)} ms${floorLatency ? ` (floor at the same rate: ${floorLatency.latency.p99Ms.toFixed(2)} ms)` : ''}`
        : '—',
      met: latency ? latency.latency.p99Ms <= 2 : undefined,
    },
    {
      target: `miss p50 minus the emulator's ${settings.missKratosMs} ms (at ${settings.missLatencyRate} checks/s)`,
      goal: '≤ 0.5 ms',
      measured:
        overhead === undefined || !miss || typeof kratos !== 'number'
          ? '—'
          : `${overhead.toFixed(2)} ms (p50 ${miss.latency.p50Ms.toFixed(2)} − emulator alone ${kratos.toFixed(2)}; − nominal ${settings.missKratosMs} ms: ${(miss.latency.p50Ms - settings.missKratosMs).toFixed(2)})`,
      met: overhead === undefined ? undefined : overhead <= 0.5,
    },
    {
      target: `burst: whoami calls for ${settings.burstChecks} simultaneous checks`,
      goal: 'exactly 1',
      measured: typeof whoami === 'number' ? String(whoami) : '—',
      met: typeof whoami === 'number' ? whoami === 1 : undefined,
    },
    {
      target: `memory: RSS with ${settings.memorySessions} cached sessions, run as shipped (the bin, no Node flags)`,
      goal: '≤ 200 MiB',
      measured: memory?.rssBytes === undefined ? '—' : `${(memory.rssBytes / MIB).toFixed(1)} MiB`,
      met: memory?.rssBytes === undefined ? undefined : memory.rssBytes <= 200 * MIB,
    },
    {
      target: 'memory: fill throughput with the heap as the service sizes it / with an unbounded heap',
      goal: '≥ 0.95',
      measured:
        typeof fillRatio === 'number'
          ? `${fillRatio.toFixed(3)}${typeof fillCpuRatio === 'number' ? `; server CPU per check ${fillCpuRatio.toFixed(3)}×` : ''}`
          : '—',
      met: typeof fillRatio === 'number' ? fillRatio >= 0.95 : undefined,
    },
  ];
}

const fixed = (value: number | undefined, digits: number): string =>
  value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits);

function scenarioRow(s: ScenarioResult): string {
  const cells = [
    `\`${s.name}\``,
    s.client,
    fixed(s.checksPerSecond, 0),
    fixed(s.latency.p50Ms, 2),
    fixed(s.latency.p90Ms, 2),
    fixed(s.latency.p99Ms, 2),
    fixed(s.latency.maxMs, 2),
    fixed(s.rssBytes === undefined ? undefined : s.rssBytes / MIB, 0),
    fixed(typeof s.facts['serverCpuUsPerCheck'] === 'number' ? s.facts['serverCpuUsPerCheck'] : undefined, 0),
    fixed(s.ratioToFloor, 2),
  ];
  return `| ${cells.join(' | ')} |`;
}

function verdict(met: boolean | undefined, smoke: boolean): string {
  if (smoke) return 'not judged (smoke)';
  if (met === undefined) return 'not run';
  return met ? 'met' : '**missed**';
}

export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const lines = [
    `# kratos-ext-authz benchmark (${report.mode})`,
    '',
    `${report.generatedAt} · code ${report.revision} · ${m.cpuModel}, ${m.cores} cores · ${m.pinned ? 'server pinned to core 0; h2load, driver and Kratos emulator on core 1' : 'not pinned (taskset missing or one core)'} · load average ${m.loadAverage.start} → ${m.loadAverage.end} · idle 1 ms timer, longest gap: ${m.timerGaps.map((j) => `core ${j.core} ${j.worstGapMs} ms`).join(', ')} · Node ${m.node} · ${m.h2load} · CheckRequest ${report.requestBodyBytes} bytes${report.serviceNodeFlags.length > 0 ? ` · service started with \`node ${report.serviceNodeFlags.join(' ')}\` (\`memory\` as shipped)` : ' · service started as shipped (the bin, no Node flags: it sizes its own heap)'}`,
    '',
    '| scenario | client | checks/s | p50 ms | p90 ms | p99 ms | max ms | RSS MiB | server CPU µs/check | × floor |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.scenarios.map(scenarioRow),
    '',
    ...report.scenarios.map((s) => `- \`${s.name}\`: ${s.load}${s.notes.length > 0 ? `; ${s.notes.join('; ')}` : ''}`),
    '',
    '| target | goal | measured | |',
    '|---|---|---|---|',
    ...report.targets.map(
      (t) => `| ${t.target} | ${t.goal} | ${t.measured} | ${verdict(t.met, report.mode === 'smoke')} |`,
    ),
  ];
  if (report.envoy) lines.push(...renderEnvoyMarkdown(report.envoy));
  if (report.peer) lines.push('', ...renderPeerMarkdown(report.peer));
  if (report.problems.length > 0)
    lines.push('', '**Harness problems (these numbers are not valid):**', ...report.problems.map((p) => `- ${p}`));
  return `${lines.join('\n')}\n`;
}
