/**
 * What the cluster's primary and its workers tell each other over node:cluster's IPC channel.
 * Every message carries TAG, so prom-client's or Node's own messages on the same channel are
 * never mistaken for ours.
 */
import type { ServiceSignal } from './service-signals';

const TAG = 'kratos-ext-authz';

/** What the primary needs from a worker for the ops server it serves for all of them. */
export type Question = 'readiness' | 'jwks' | 'metrics';

export type ToWorker = { tag: typeof TAG; signal: ServiceSignal } | { tag: typeof TAG; id: number; question: Question };

export type FromWorker =
  | { tag: typeof TAG; serving: { grpcPort: number; httpAuthzPort: number | null } }
  | { tag: typeof TAG; id: number; answer: unknown };

export const signalMessage = (signal: ServiceSignal): ToWorker => ({ tag: TAG, signal });
export const questionMessage = (id: number, question: Question): ToWorker => ({ tag: TAG, id, question });
export const servingMessage = (grpcPort: number, httpAuthzPort: number | undefined): FromWorker => ({
  tag: TAG,
  serving: { grpcPort, httpAuthzPort: httpAuthzPort ?? null },
});
export const answerMessage = (id: number, answer: unknown): FromWorker => ({ tag: TAG, id, answer });

function tagged(message: unknown): message is Record<string, unknown> {
  return typeof message === 'object' && message !== null && (message as { tag?: unknown }).tag === TAG;
}

export function readToWorker(message: unknown): ToWorker | undefined {
  if (!tagged(message)) return undefined;
  if ('signal' in message) return message as ToWorker;
  return typeof message.id === 'number' && typeof message.question === 'string' ? (message as ToWorker) : undefined;
}

export function readFromWorker(message: unknown): FromWorker | undefined {
  if (!tagged(message)) return undefined;
  if (typeof message.serving === 'object' && message.serving !== null) return message as FromWorker;
  return typeof message.id === 'number' && 'answer' in message ? (message as FromWorker) : undefined;
}
