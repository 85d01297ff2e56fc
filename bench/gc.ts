/**
 * The driver's own pauses. It builds up to 100000 request bodies (and their protobuf garbage)
 * on the load core; a major collection in the middle of a run would stall its reading of
 * answers and show up as server latency. So it collects before each measured run, and
 * measures how long its event loop stalled during it.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/** A full collection now, if V8 lets us expose gc() at run time (otherwise nothing). */
export function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    const exposed: unknown = runInNewContext('gc');
    gc = typeof exposed === 'function' ? (exposed as () => void) : () => {};
  }
  gc();
}

const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();

/** The driver's longest event-loop stall since the last call, in ms. */
export function takeDriverStallMs(): number {
  const max = loop.max / 1e6;
  loop.reset();
  return max;
}
