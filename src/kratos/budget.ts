import type { CallContext } from './types';

// Time kept back from Envoy's deadline to encode and send the answer (timers fire late under load).
const ANSWER_MARGIN_MS = 10;

/** Milliseconds a Kratos call may take: the configured timeout, cut short by the check's deadline. */
export function callBudget(timeoutMs: number, context: CallContext, now = Date.now()): number {
  return Math.floor(Math.min(timeoutMs, context.deadline - now - ANSWER_MARGIN_MS));
}
