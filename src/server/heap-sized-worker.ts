/**
 * The service runs in a worker thread whose heap limit the bin sets itself, so the bin, the
 * image and the Deployment all run with the same limit and no Node flags. V8 reads its
 * old-space limit once, when an isolate is created: `v8.setFlagsFromString` after start does
 * not move it, but a worker's `resourceLimits` does, in the same process (one PID, signals and
 * exit code as before, no second Node runtime's RSS). An explicit `--max-old-space-size`
 * (command line or NODE_OPTIONS) still wins: Node applies it to workers over `resourceLimits`.
 *
 * The limit depends on the configuration, which a short-lived first worker reads: loaded on the
 * main thread, the config modules would stay in its heap for the life of the process, while a
 * worker's heap is released when it ends.
 *
 * With server.workers > 1 the main thread becomes node:cluster's primary (cluster-primary.ts)
 * and forks worker processes with the limits as V8 flags instead: the service cannot run in a
 * worker thread there, since node:cluster shares listening sockets with a worker process's main
 * thread only (in a thread, `cluster.isWorker` is false, the listen is exclusive, and the second
 * worker fails with EADDRINUSE).
 */
import { setFlagsFromString } from 'node:v8';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { totalmem } from 'node:os';
import type { Config } from '../config/schema';
import {
  givesV8Flag,
  HEAP_GROWING_PERCENT,
  heapLimitUnder,
  memoryLimitBytes,
  memoryShareBytes,
  YOUNG_GENERATION_MIB,
} from './heap-limit';
import { SERVICE_SIGNALS, serviceSignalIn, type ServiceSignal } from './service-signals';

const SIZING = 'size-heap';

/**
 * What the sizing worker reports: the heap limit one serving process needs, how many serve, and
 * what the cluster's primary needs to run the ops server; or the configuration problem that
 * stops start-up.
 */
export type HeapSizing =
  { heapLimitMiB: number; workers: number; opsAddress: string; log: Config['log'] } | { configProblem: string };

/** True in the short-lived worker that reads the configuration to size the service's heap. */
export function isHeapSizingWorker(): boolean {
  return !isMainThread && workerData === SIZING;
}

export function reportHeapSizing(sizing: HeapSizing): void {
  parentPort?.postMessage(sizing);
}

/**
 * Runs `script argv` twice in workers: once to size the heap, then to serve under that limit.
 * The process exits with the serving worker's code; a configuration problem exits 2 first.
 */
export async function serveInHeapSizedWorker(script: string, argv: string[]): Promise<void> {
  // Until the service runs there is nothing to drain or reload: a stop exits at once, a reload
  // is noted (Node's default for SIGHUP would end the process).
  let deliver: ((signal: ServiceSignal) => void) | undefined;
  for (const signal of SERVICE_SIGNALS) {
    process.on(signal, () => {
      if (deliver) deliver(signal);
      else if (signal === 'SIGHUP') process.stderr.write('kratos-ext-authz: SIGHUP before serving: ignored\n');
      else process.exit(1);
    });
  }
  const sizing = await new Promise<HeapSizing>((resolve, reject) => {
    const sizer = new Worker(script, { argv, workerData: SIZING });
    sizer.once('message', resolve);
    sizer.once('error', reject);
    sizer.once('exit', (code) => reject(new Error(`the heap-sizing worker exited with ${code} before reporting`)));
  });
  if ('configProblem' in sizing) {
    process.stderr.write(`kratos-ext-authz: ${sizing.configProblem}\n`);
    process.exit(2);
  }
  const heapLimit = heapLimitWarned(sizing.heapLimitMiB, sizing.workers);
  const operatorGave = (flag: string) => givesV8Flag(flag, process.execArgv, process.env.NODE_OPTIONS);
  if (sizing.workers > 1) {
    const execArgv = [
      ...process.execArgv,
      ...(operatorGave('--max-old-space-size') ? [] : [`--max-old-space-size=${heapLimit}`]),
      ...(operatorGave('--max-semi-space-size') ? [] : [`--max-semi-space-size=${YOUNG_GENERATION_MIB / 3}`]),
      ...(operatorGave('--heap-growing-percent') ? [] : [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]),
    ];
    // Loaded only here: the primary's modules (pino, prom-client, the ops server) would otherwise sit in
    // the main thread of every single process.
    const { serveInCluster } = require('./cluster-primary') as typeof import('./cluster-primary');
    deliver = await serveInCluster(script, argv, { ...sizing, execArgv });
    return;
  }
  // Read by V8 at each full collection (unlike the heap limit), so setting it now takes effect.
  if (!operatorGave('--heap-growing-percent')) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const young = operatorGave('--max-semi-space-size') ? {} : { maxYoungGenerationSizeMb: YOUNG_GENERATION_MIB };
  const worker = new Worker(script, { argv, resourceLimits: { maxOldGenerationSizeMb: heapLimit, ...young } });
  deliver = (signal) => worker.postMessage(signal);
  // An uncaught error or running out of heap ends the worker; its 'exit' (code 1) follows.
  worker.on('error', (error) => void process.stderr.write(`kratos-ext-authz: ${error.message}\n`));
  worker.on('exit', (code) => process.exit(code));
}

/**
 * The heap limit each serving process gets: what the cache needs, within its share of the
 * memory limit; said on stderr when that share is too small.
 */
function heapLimitWarned(neededMiB: number, workers: number): number {
  const memoryLimit = memoryLimitBytes(process.constrainedMemory(), totalmem());
  const share = memoryLimit === undefined ? undefined : memoryShareBytes(memoryLimit, workers);
  const heapLimit = heapLimitUnder(neededMiB, share);
  if (memoryLimit !== undefined && heapLimit < neededMiB) {
    const each = workers > 1 ? ` for each of ${workers} workers` : '';
    process.stderr.write(
      `kratos-ext-authz: cache.max_entries needs a ${neededMiB} MiB heap, more than the memory limit (${Math.floor(memoryLimit / 1024 / 1024)} MiB) leaves room for${each}: the heap is capped at ${heapLimit} MiB; a full cache will end the process. Lower cache.max_entries${workers > 1 ? ' or server.workers' : ''} or raise the limit.\n`,
    );
  }
  return heapLimit;
}

/** Calls `handler` for each service signal the main thread forwards to the serving worker. */
export function onServiceSignal(handler: (signal: ServiceSignal) => void): void {
  parentPort?.on('message', (message: unknown) => {
    const signal = serviceSignalIn(message);
    if (signal !== undefined) handler(signal);
  });
}
