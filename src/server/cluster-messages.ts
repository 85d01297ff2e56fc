/**
 * What the cluster's primary and its workers tell each other over node:cluster's IPC channel.
 * Every message carries TAG, so prom-client's or Node's own messages on the same channel are
 * never mistaken for ours.
 */
import { serviceSignalIn, type ServiceSignal } from './service-signals';

const TAG = 'kratos-ext-authz';

/** What the primary needs from a worker for the ops server it serves for all of them. */
const QUESTIONS = ['readiness', 'jwks', 'metrics'] as const;
export type Question = (typeof QUESTIONS)[number];

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
  const signal = serviceSignalIn(message.signal);
  if (signal !== undefined) return signalMessage(signal);
  const question = QUESTIONS.find((candidate) => candidate === message.question);
  return typeof message.id === 'number' && question !== undefined ? questionMessage(message.id, question) : undefined;
}

export function readFromWorker(message: unknown): FromWorker | undefined {
  if (!tagged(message)) return undefined;
  const serving = message.serving as { grpcPort?: unknown; httpAuthzPort?: unknown } | null | undefined;
  if (typeof serving?.grpcPort === 'number')
    return servingMessage(
      serving.grpcPort,
      typeof serving.httpAuthzPort === 'number' ? serving.httpAuthzPort : undefined,
    );
  return typeof message.id === 'number' && 'answer' in message ? answerMessage(message.id, message.answer) : undefined;
}
