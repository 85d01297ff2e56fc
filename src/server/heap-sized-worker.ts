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
 */
import { setFlagsFromString } from 'node:v8';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { totalmem } from 'node:os';
import {
  givesV8Flag,
  HEAP_GROWING_PERCENT,
  heapLimitUnder,
  memoryLimitBytes,
  YOUNG_GENERATION_MIB,
} from './heap-limit';

/** The signals the service acts on. A worker thread receives none, so the main thread forwards them. */
const SERVICE_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
export type ServiceSignal = (typeof SERVICE_SIGNALS)[number];

const SIZING = 'size-heap';

/** What the sizing worker reports: the limit, or the configuration problem that stops start-up. */
export type HeapSizing = { heapLimitMiB: number } | { configProblem: string };

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
  // Until the serving worker exists there is nothing to drain or reload: a stop exits at once,
  // a reload is noted (Node's default for SIGHUP would end the process).
  let worker: Worker | undefined;
  for (const signal of SERVICE_SIGNALS) {
    process.on(signal, () => {
      if (worker) worker.postMessage(signal);
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
  // Read by V8 at each full collection (unlike the heap limit), so setting it now takes effect.
  if (!givesV8Flag('--heap-growing-percent', process.execArgv, process.env.NODE_OPTIONS))
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const young = givesV8Flag('--max-semi-space-size', process.execArgv, process.env.NODE_OPTIONS)
    ? {}
    : { maxYoungGenerationSizeMb: YOUNG_GENERATION_MIB };
  const memoryLimit = memoryLimitBytes(process.constrainedMemory(), totalmem());
  const heapLimit = heapLimitUnder(sizing.heapLimitMiB, memoryLimit);
  if (memoryLimit !== undefined && heapLimit < sizing.heapLimitMiB) {
    process.stderr.write(
      `kratos-ext-authz: cache.max_entries needs a ${sizing.heapLimitMiB} MiB heap, more than the memory limit (${Math.floor(memoryLimit / 1024 / 1024)} MiB) leaves room for: the heap is capped at ${heapLimit} MiB; a full cache will end the process. Lower cache.max_entries or raise the limit.\n`,
    );
  }
  worker = new Worker(script, { argv, resourceLimits: { maxOldGenerationSizeMb: heapLimit, ...young } });
  // An uncaught error or running out of heap ends the worker; its 'exit' (code 1) follows.
  worker.on('error', (error) => void process.stderr.write(`kratos-ext-authz: ${error.message}\n`));
  worker.on('exit', (code) => process.exit(code));
}

/** Calls `handler` for each service signal the main thread forwards to the serving worker. */
export function onServiceSignal(handler: (signal: ServiceSignal) => void): void {
  parentPort?.on('message', (message: unknown) => {
    const signal = SERVICE_SIGNALS.find((candidate) => candidate === message);
    if (signal !== undefined) handler(signal);
  });
}
