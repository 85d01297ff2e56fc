/**
 * server.workers > 1: this process is node:cluster's primary. It forks the workers (each runs
 * the service's doors, serve.ts), accepts every connection on the shared listening sockets and
 * hands them to the workers in turn (SCHED_RR: Envoy's few long-lived connections spread
 * evenly, where the kernel's accept balancing piles them on one), and serves the one ops server
 * (/healthz, /readyz, /metrics summed over the workers). It forwards the service's signals to
 * every worker, replaces a worker that dies, and gives up (exit 1) when they keep dying.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Config } from '../config/schema';
import { createLogger } from '../observability/logger';
import { questionMessage, readFromWorker, signalMessage, type Question, type ToWorker } from './cluster-messages';
import { createOpsServer, listenHttp } from './ops-server';
import type { ServiceSignal } from './service-signals';

export interface ClusterPlan {
  workers: number;
  /** server.http_address: the ops server, in the primary only. */
  opsAddress: string;
  log: Config['log'];
  /** The workers' Node flags: the heap limits the primary sized (heap-sized-worker.ts). */
  execArgv: string[];
}

/** More replacements than this within REPLACEMENT_WINDOW_MS is a crash loop: the primary exits 1. */
const REPLACEMENTS_ALLOWED = 5;
const REPLACEMENT_WINDOW_MS = 60_000;

/** How long a worker has to answer the ops server's question; a worker stuck longer is a 500 or not ready. */
const ANSWER_MS = 2_000;

/** Starts the workers and the ops server; resolves with what the primary does on each service signal. */
export async function serveInCluster(
  script: string,
  argv: string[],
  plan: ClusterPlan,
): Promise<(signal: ServiceSignal) => void> {
  const logger = createLogger(plan.log).child({ pid: process.pid });
  cluster.schedulingPolicy = cluster.SCHED_RR;
  cluster.setupPrimary({ exec: script, args: argv, execArgv: plan.execArgv });
  const workers = new Set<Worker>();
  /** Workers that have said they serve, in the order they did. */
  const serving = new Set<Worker>();
  const replacedAt: number[] = [];
  let allServing = false;
  let stopping = false;
  let failedExits = 0;

  const asker = questionsToWorkers();
  const ops = createOpsServer({
    metrics: async () => {
      const answers = await Promise.all([...serving].map((worker) => asker.ask(worker, 'metrics')));
      const perWorker = answers.map((answer) => {
        if (!Array.isArray(answer)) throw new Error('a worker could not read its metrics');
        return answer as MetricObjectWithValues<MetricValue<string>>[];
      });
      const registry = AggregatorRegistry.aggregate(perWorker);
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
    notReadyBecause: async () => {
      if (stopping) return 'shutting down';
      if (serving.size < plan.workers) return `${serving.size} of ${plan.workers} workers serving`;
      const problems = await Promise.all(
        [...serving].map(async (worker) => {
          const answer = await asker.ask(worker, 'readiness');
          if (answer === null) return undefined;
          return `worker ${worker.process.pid}: ${typeof answer === 'string' ? answer : 'readiness unknown'}`;
        }),
      );
      return problems.find((problem) => problem !== undefined);
    },
    jwks: async () => {
      const [first] = serving;
      if (!first) throw new Error('no worker serving');
      const answer = await asker.ask(first, 'jwks');
      return typeof answer === 'string' ? answer : undefined;
    },
  });
  const httpPort = await listenHttp(ops, plan.opsAddress);

  const finish = () => {
    ops.closeAllConnections();
    ops.close();
    logger.info({ failed_workers: failedExits }, 'stopped');
    process.exit(failedExits === 0 ? 0 : 1);
  };
  const stopNow = (message: string, fields: Record<string, unknown>) => {
    logger.fatal(fields, message);
    for (const worker of workers) worker.process.kill('SIGKILL');
    process.exit(1);
  };
  const replace = (worker: Worker, code: number | null, signal: string | null) => {
    const fields = { worker_pid: worker.process.pid, code, signal };
    if (!allServing) return stopNow('a worker exited before all were serving: stopping', fields);
    const now = Date.now();
    replacedAt.push(now);
    while ((replacedAt[0] ?? now) < now - REPLACEMENT_WINDOW_MS) replacedAt.shift();
    if (replacedAt.length > REPLACEMENTS_ALLOWED)
      return stopNow(
        `workers keep exiting (${replacedAt.length} in ${REPLACEMENT_WINDOW_MS / 1000} s): stopping`,
        fields,
      );
    logger.error(fields, 'worker exited: starting a replacement');
    start();
  };
  const start = () => {
    const worker = cluster.fork();
    workers.add(worker);
    // A send racing the worker's exit fails here, not as an uncaught 'error' that would end the primary.
    worker.on('error', (error: Error) =>
      logger.warn({ worker_pid: worker.process.pid, err: error.message }, 'worker channel error'),
    );
    worker.on('message', (message: unknown) => {
      const read = readFromWorker(message);
      if (!read || !('serving' in read)) return;
      serving.add(worker);
      logger.info({ worker_pid: worker.process.pid }, 'worker serving');
      if (allServing || serving.size < plan.workers) return;
      allServing = true;
      logger.info(
        {
          grpc_port: read.serving.grpcPort,
          http_port: httpPort,
          http_authz_port: read.serving.httpAuthzPort ?? undefined,
          workers: plan.workers,
          worker_pids: [...serving].map((each) => each.process.pid),
        },
        'serving',
      );
    });
    worker.on('exit', (code, signal) => {
      workers.delete(worker);
      serving.delete(worker);
      if (!stopping) return replace(worker, code, signal);
      if (code !== 0) failedExits++;
      if (workers.size === 0) finish();
    });
  };
  for (let index = 0; index < plan.workers; index++) start();

  return (signal) => {
    if (signal === 'SIGHUP') {
      logger.info({ signal, workers: workers.size }, 'reloading every worker');
      for (const worker of workers) tell(worker, signalMessage(signal));
      return;
    }
    if (stopping) return stopNow('second signal: exiting now', { signal });
    stopping = true;
    logger.info({ signal, workers: workers.size }, 'draining every worker');
    for (const worker of workers) tell(worker, signalMessage(signal));
    if (workers.size === 0) finish();
  };
}

/** Sends to a worker whose channel is still open; one that is going is told nothing (its exit is handled). */
function tell(worker: Worker, message: ToWorker): void {
  if (worker.isConnected()) worker.send(message);
}

/** Questions to workers and their answers, matched by id; a worker that does not answer in time fails the question. */
function questionsToWorkers(): { ask(worker: Worker, question: Question): Promise<unknown> } {
  let nextId = 0;
  const waiting = new Map<number, (answer: unknown) => void>();
  cluster.on('message', (_worker, message: unknown) => {
    const read = readFromWorker(message);
    if (read && 'answer' in read) waiting.get(read.id)?.(read.answer);
  });
  return {
    ask: (worker, question) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`worker ${worker.process.pid} did not answer within ${ANSWER_MS} ms`));
        }, ANSWER_MS);
        waiting.set(id, (answer) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(answer);
        });
        tell(worker, questionMessage(id, question));
      }),
  };
}
