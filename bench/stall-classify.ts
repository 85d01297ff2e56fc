/**
 * Reads stall-probe.ts's logs and says what each event-loop stall of the serving thread was:
 *   gc        GC pauses cover most of it
 *   own work  the thread was on the CPU most of it (JavaScript, the transport, the handler)
 *   self      it waited for the CPU while the process's other threads (GC helpers) ran
 *   machine   it waited for the CPU while other processes ran
 *   blocked   it was neither running nor runnable: it slept (a lock, a blocking call)
 * Usage: node dist/bench/stall-classify.js <STALL_PROBE_DIR>/stalls-<pid>.log …
 */
import { readFileSync } from 'node:fs';

interface Gap {
  startMs: number;
  lengthMs: number;
  onCpuMs: number;
  waitingMs: number;
  otherThreadsMs: number;
}

interface Pause {
  startMs: number;
  lengthMs: number;
  kind: number;
}

type Verdict = 'gc' | 'own work' | 'self' | 'machine' | 'blocked';

function parse(text: string): { gaps: Gap[]; pauses: Pause[] } {
  const gaps: Gap[] = [];
  const pauses: Pause[] = [];
  for (const line of text.split('\n')) {
    const [tag, ...fields] = line.split(' ');
    const numbers = fields.map(Number);
    if (tag === 'GAP')
      gaps.push({
        startMs: numbers[0] ?? 0,
        lengthMs: numbers[1] ?? 0,
        onCpuMs: numbers[2] ?? 0,
        waitingMs: numbers[3] ?? 0,
        otherThreadsMs: numbers[4] ?? 0,
      });
    if (tag === 'GC') pauses.push({ startMs: numbers[0] ?? 0, lengthMs: numbers[1] ?? 0, kind: numbers[2] ?? 0 });
  }
  return { gaps, pauses };
}

function pausesIn(gap: Gap, pauses: readonly Pause[]): Pause[] {
  return pauses.filter(
    (pause) => pause.startMs < gap.startMs + gap.lengthMs && pause.startMs + pause.lengthMs > gap.startMs,
  );
}

function verdictOf(gap: Gap, pauses: readonly Pause[]): Verdict {
  const inGc = pausesIn(gap, pauses).reduce((sum, pause) => sum + pause.lengthMs, 0);
  if (inGc > gap.lengthMs / 2) return 'gc';
  if (gap.onCpuMs > gap.lengthMs / 2) return 'own work';
  if (gap.waitingMs > gap.lengthMs / 2) return gap.otherThreadsMs > gap.waitingMs / 2 ? 'self' : 'machine';
  return 'blocked';
}

/** Node's PerformanceEntry gc kinds. */
const GC_KINDS: Record<number, string> = {
  1: 'scavenge',
  2: 'minor mark-sweep',
  4: 'mark-compact',
  8: 'incremental marking',
  16: 'weak callbacks',
};

function describe(path: string): string[] {
  const { gaps, pauses } = parse(readFileSync(path, 'utf8'));
  const counts = new Map<Verdict, number>();
  for (const gap of gaps) {
    const verdict = verdictOf(gap, pauses);
    counts.set(verdict, (counts.get(verdict) ?? 0) + 1);
  }
  const byKind = new Map<number, number[]>();
  for (const pause of pauses) byKind.set(pause.kind, [...(byKind.get(pause.kind) ?? []), pause.lengthMs]);
  const lines = [
    `${path}: ${gaps.length} stalls over 20 ms: ${[...counts].map(([verdict, n]) => `${verdict} ${n}`).join(', ') || 'none'}`,
    `  GC pauses: ${[...byKind].map(([kind, lengths]) => `${GC_KINDS[kind] ?? kind} ×${lengths.length} (longest ${Math.max(...lengths).toFixed(1)} ms)`).join(', ')}`,
  ];
  for (const gap of [...gaps].sort((a, b) => b.lengthMs - a.lengthMs).slice(0, 10)) {
    const gc = pausesIn(gap, pauses).map(
      (pause) => `${GC_KINDS[pause.kind] ?? pause.kind} ${pause.lengthMs.toFixed(1)}`,
    );
    lines.push(
      `  ${new Date(gap.startMs).toISOString()} ${gap.lengthMs.toFixed(0)} ms: ${verdictOf(gap, pauses)} (on CPU ${gap.onCpuMs.toFixed(0)}, waiting ${gap.waitingMs.toFixed(0)}, other threads ${gap.otherThreadsMs.toFixed(0)} ms${gc.length > 0 ? `; GC ${gc.join(', ')}` : ''})`,
    );
  }
  return lines;
}

if (require.main === module) {
  const paths = process.argv.slice(2);
  if (paths.length === 0) {
    process.stderr.write('usage: node dist/bench/stall-classify.js <stalls-<pid>.log> …\n');
    process.exit(2);
  }
  for (const path of paths) process.stdout.write(`${describe(path).join('\n')}\n`);
}
