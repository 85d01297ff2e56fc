import { answerMarginMs } from '../request/deadline';
import type { CallContext } from './types';

/** Milliseconds a Kratos call may take: the configured timeout, cut short by the check's deadline. */
export function callBudget(timeoutMs: number, context: CallContext, now = Date.now()): number {
  const left = context.deadline - now;
  if (left === Infinity) return Math.floor(timeoutMs);
  return Math.floor(Math.min(timeoutMs, left - answerMarginMs(left)));
}
