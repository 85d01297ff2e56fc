/**
 * A cluster worker's side of the channel to its primary (cluster-primary.ts): the signals it
 * forwards, and the answers to its questions about readiness, the JWK Set and the metrics.
 */
import { answerMessage, readToWorker, servingMessage, type FromWorker, type Question } from './cluster-messages';
import { SERVICE_SIGNALS, type ServiceSignal } from './service-signals';
import type { ServiceDoors } from './service';

function tellPrimary(message: FromWorker): void {
  process.send?.(message);
}

/**
 * Calls `handler` for each signal the primary forwards. The worker's own signals are ignored:
 * the primary acts on them for every worker, and a terminal's Ctrl-C, which reaches the whole
 * process group, would otherwise start each worker's drain twice.
 */
export function onPrimarySignal(handler: (signal: ServiceSignal) => void): void {
  for (const signal of SERVICE_SIGNALS) process.on(signal, () => undefined);
  process.on('message', (message: unknown) => {
    const read = readToWorker(message);
    if (read && 'signal' in read) handler(read.signal);
  });
}

/** Tells the primary this worker serves, then answers its questions for as long as it runs. */
export function answerPrimary(service: ServiceDoors): void {
  const answers: Record<Question, () => Promise<unknown>> = {
    readiness: async () => service.notReadyBecause() ?? null,
    jwks: async () => service.jwks() ?? null,
    // As JSON, for prom-client's AggregatorRegistry.aggregate in the primary.
    metrics: () => service.metrics.registry.getMetricsAsJSON(),
  };
  process.on('message', (message: unknown) => {
    const read = readToWorker(message);
    if (read && 'question' in read)
      answers[read.question]().then(
        (answer) => tellPrimary(answerMessage(read.id, answer)),
        (error: unknown) => tellPrimary(answerMessage(read.id, { error: String(error) })),
      );
  });
  tellPrimary(servingMessage(service.grpcPort, service.httpAuthzPort));
}
