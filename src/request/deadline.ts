// Time kept back from a caller's deadline to encode and send the answer: a tenth of what is left,
// at least 10 ms, because timers fire late when the event loop is busy. An answer sent later
// reaches a caller that has already given up (Envoy then applies failure_mode_allow).
const MIN_ANSWER_MARGIN_MS = 10;
const ANSWER_MARGIN_SHARE = 0.1;

/** When an answer must be on its way for a caller whose deadline is `leftMs` away. */
export function answerMarginMs(leftMs: number): number {
  return Math.max(MIN_ANSWER_MARGIN_MS, leftMs * ANSWER_MARGIN_SHARE);
}
