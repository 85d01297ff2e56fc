// What one call costs: its time and the heap it allocated. A reader that splits an 8 MiB header
// into millions of strings allocates an array of 8 bytes a piece (64 MiB and more); one that
// scans it allocates at most a copy of what it returns.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const EIGHT_MIB = 8 * 1024 * 1024;

let collect: (() => void) | undefined;

/** V8's collector, exposed for this measurement only. */
function collectGarbage(): void {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

export interface Work {
  ms: number;
  /** Heap grown during the call, garbage included: nothing collects between the two readings. */
  allocatedMiB: number;
}

export function workOf(call: () => unknown): Work {
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  call();
  const ms = performance.now() - started;
  return { ms, allocatedMiB: (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024 };
}

/** Readable in an assertion message. */
export function describeWork(work: Work): string {
  return `${Math.round(work.ms)} ms, ${work.allocatedMiB.toFixed(1)} MiB allocated`;
}
