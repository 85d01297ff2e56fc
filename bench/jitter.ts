/**
 * How still the machine is: a Node process per core, idle but for a 1 ms timer, reports the
 * longest gap between ticks. On a quiet dedicated machine that is 1–2 ms; a shared VM shows
 * longer stalls, and every client-side p99 below carries them (the server's own handler-time
 * histogram does not).
 */
import { execFile } from 'node:child_process';
import { pinned } from './processes';

const PROBE = `
const seconds = Number(process.argv[1]);
let last = process.hrtime.bigint();
let worst = 0;
const gaps = [];
const timer = setInterval(() => {
  const now = process.hrtime.bigint();
  const gap = Number(now - last) / 1e6;
  last = now;
  gaps.push(gap);
  if (gap > worst) worst = gap;
}, 1);
setTimeout(() => {
  clearInterval(timer);
  gaps.sort((a, b) => a - b);
  const p99 = gaps[Math.floor(gaps.length * 0.99)] ?? 0;
  console.log(JSON.stringify({ worstGapMs: worst, p99GapMs: p99 }));
}, seconds * 1000);
`;

export interface Jitter {
  core: number;
  worstGapMs: number;
  p99GapMs: number;
}

function probe(core: number, seconds: number): Promise<Jitter> {
  const [command, args] = pinned(core, process.execPath, ['-e', PROBE, String(seconds)]);
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: 'utf8' }, (error, stdout) => {
      if (error) return reject(error);
      const parsed = JSON.parse(stdout) as { worstGapMs: number; p99GapMs: number };
      resolve({
        core,
        worstGapMs: Math.round(parsed.worstGapMs * 10) / 10,
        p99GapMs: Math.round(parsed.p99GapMs * 100) / 100,
      });
    });
  });
}

/** Both cores at once, for `seconds`, before anything else runs. */
export function measureJitter(seconds: number): Promise<Jitter[]> {
  return Promise.all([probe(0, seconds), probe(1, seconds)]);
}
