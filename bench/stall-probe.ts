/**
 * Preloaded into the service (`--service-node-flags "-r <dist>/bench/stall-probe.js"`, with
 * STALL_PROBE_DIR set) to tell what a latency stall was. In the serving worker thread it ticks
 * every 2 ms and, when a tick comes more than 20 ms late, records the gap with what the thread did
 * meanwhile, from Linux's per-thread scheduler counters (/proc/thread-self/schedstat): time on the
 * CPU (its own work: JavaScript or a GC pause), time runnable but waiting for the CPU (something
 * else held the core), and CPU the process's other threads took in the gap (V8's GC helpers,
 * libuv's pool, the main thread: the process competing with itself on a pinned core). Every GC
 * pause is recorded too. One file per process: stalls-<pid>.log; stall-classify.ts reads it.
 */
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const TICK_MS = 2;
const LATE_MS = 20;
const FLUSH_MS = 500;

/** ns on the CPU and ns waiting on a run queue, of the calling thread or of task `tid`. */
function schedstat(path: string): [number, number] {
  const [onCpu, waiting] = readFileSync(path, 'utf8').split(' ').map(Number);
  return [onCpu ?? 0, waiting ?? 0];
}

function processOnCpuNs(tasks: readonly string[]): number {
  let sum = 0;
  for (const task of tasks) {
    try {
      sum += schedstat(`/proc/self/task/${task}/schedstat`)[0];
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return sum;
}

/** Node puts the GC's kind in the entry's `detail` (its typings of PerformanceEntry leave it out). */
function gcKind(entry: object): number {
  const detail: unknown = Reflect.get(entry, 'detail');
  const kind: unknown = detail !== null && typeof detail === 'object' ? Reflect.get(detail, 'kind') : undefined;
  return typeof kind === 'number' ? kind : 0;
}

function start(directory: string): void {
  const file = join(directory, `stalls-${process.pid}.log`);
  const origin = performance.timeOrigin;
  const lines: string[] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = gcKind(entry);
      lines.push(`GC ${(origin + entry.startTime).toFixed(1)} ${entry.duration.toFixed(2)} ${kind}`);
    }
  }).observe({ entryTypes: ['gc'] });
  let tasks = readdirSync('/proc/self/task');
  setInterval(() => (tasks = readdirSync('/proc/self/task')), 1000).unref();
  let last = performance.now();
  let [lastOnCpu, lastWaiting] = schedstat('/proc/thread-self/schedstat');
  let lastProcess = processOnCpuNs(tasks);
  setInterval(() => {
    const now = performance.now();
    const [onCpu, waiting] = schedstat('/proc/thread-self/schedstat');
    const processCpu = processOnCpuNs(tasks);
    if (now - last > LATE_MS) {
      const own = onCpu - lastOnCpu;
      lines.push(
        `GAP ${(origin + last).toFixed(1)} ${(now - last).toFixed(1)} ${(own / 1e6).toFixed(1)} ${((waiting - lastWaiting) / 1e6).toFixed(1)} ${((processCpu - lastProcess - own) / 1e6).toFixed(1)}`,
      );
    }
    [last, lastOnCpu, lastWaiting, lastProcess] = [now, onCpu, waiting, processCpu];
  }, TICK_MS).unref();
  setInterval(() => {
    if (lines.length > 0) appendFileSync(file, `${lines.splice(0).join('\n')}\n`);
  }, FLUSH_MS).unref();
}

// The service serves in a worker thread (src/server/heap-sized-worker.ts); the main thread only waits.
const directory = process.env.STALL_PROBE_DIR;
if (!isMainThread && directory) start(directory);
