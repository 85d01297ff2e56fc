/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by where the code
 * lives (our src/, grpc-js, protobufjs, Node core, GC), which is what says what to optimise.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  micros: number;
  share: number;
}

export interface ProfileSummary {
  busyMicros: number;
  idleMicros: number;
  byArea: SelfTime[];
  byFunction: SelfTime[];
}

/** Where a frame's code lives, coarse enough to read at a glance. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  if (url.startsWith('node:')) {
    // node:internal/http2/core → http2; node:events → events
    const parts = url.slice('node:'.length).split('/');
    return `node core: ${(parts[0] === 'internal' && parts.length > 2 ? parts[1] : parts[parts.length - 1]) ?? url}`;
  }
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  const ours = /\/dist\/((?:src|bench)\/[^/]+)/.exec(url);
  return ours ? `ours: ${ours[1]}` : url;
}

function frameLabel(frame: CallFrame): string {
  const file = frame.url.replace(/^.*\/(node_modules|dist)\//, '').replace(/^file:\/\//, '');
  return `${frame.functionName || '(anonymous)'} ${file ? `${file}:${frame.lineNumber + 1}` : ''}`.trim();
}

function ranked(totals: Map<string, number>, busy: number, limit: number): SelfTime[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, micros]) => ({ name, micros, share: micros / busy }));
}

export function summarizeProfile(path: string, limit = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  profile.samples.forEach((id, index) => {
    const frame = frames.get(id);
    const micros = profile.timeDeltas[index] ?? 0;
    if (!frame) return;
    if (frame.functionName === '(idle)') {
      idle += micros;
      return;
    }
    busy += micros;
    const area = areaOf(frame);
    byArea.set(area, (byArea.get(area) ?? 0) + micros);
    const label = frameLabel(frame);
    byFunction.set(label, (byFunction.get(label) ?? 0) + micros);
  });
  return {
    busyMicros: busy,
    idleMicros: idle,
    byArea: ranked(byArea, busy, limit),
    byFunction: ranked(byFunction, busy, limit),
  };
}

export function renderProfile(summary: ProfileSummary, checks: number): string {
  const perCheck = (micros: number): string => (checks > 0 ? (micros / checks).toFixed(2) : '—');
  const table = (title: string, rows: SelfTime[]): string[] => [
    `| ${title} | self ms | share | µs per check |`,
    '|---|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.name.replace(/\|/g, '\\|')} | ${(row.micros / 1000).toFixed(0)} | ${(row.share * 100).toFixed(1)}% | ${perCheck(row.micros)} |`,
    ),
  ];
  return [
    `Busy ${(summary.busyMicros / 1000).toFixed(0)} ms, idle ${(summary.idleMicros / 1000).toFixed(0)} ms, ${checks} checks: ${perCheck(summary.busyMicros)} µs of CPU per check.`,
    '',
    ...table('area', summary.byArea),
    '',
    ...table('function (self time)', summary.byFunction),
    '',
  ].join('\n');
}
