import type { CallContext } from './types';

// Time kept back from Envoy's deadline to encode and send the answer: a tenth of what is left,
// at least 10 ms, because timers fire late when the event loop is busy.
const MIN_ANSWER_MARGIN_MS = 10;
const ANSWER_MARGIN_SHARE = 0.1;

/** Milliseconds a Kratos call may take: the configured timeout, cut short by the check's deadline. */
export function callBudget(timeoutMs: number, context: CallContext, now = Date.now()): number {
  const left = context.deadline - now;
  if (left === Infinity) return Math.floor(timeoutMs);
  const margin = Math.max(MIN_ANSWER_MARGIN_MS, left * ANSWER_MARGIN_SHARE);
  return Math.floor(Math.min(timeoutMs, left - margin));
}
