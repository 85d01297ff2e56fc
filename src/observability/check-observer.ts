import type { Decision, DecisionFacts } from '../decision';
import type { RequestView } from '../request/view';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

export interface CheckRecord {
  decision: Decision;
  facts: DecisionFacts;
  view: RequestView | undefined;
  seconds: number;
}

/**
 * One log line and one metric sample per answered check. Allows log at debug, denials at info,
 * errors at warn/error. Only fields listed here reach the log: never headers, never the query.
 */
export function checkObserver(logger: Logger, metrics: Metrics): (record: CheckRecord) => void {
  return ({ decision, facts: { verdict, reason, subject }, view, seconds }) => {
    metrics.checks.inc({ decision: verdict, credential: decision.credential, reason });
    metrics.checkDuration.observe(seconds);
    const level = verdict === 'allow' ? 'debug' : decision.kind === 'internal_error' ? 'error' : verdict === 'error' ? 'warn' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    logger[level](
      {
        request_id: view?.requestId,
        method: view?.method,
        // The parsed host (no port), not the authority as the client spelt it.
        host: view?.host,
        path: view && pathWithoutQuery(view.path),
        credential: decision.credential,
        decision: verdict,
        reason,
        policy: decision.policy,
        identity_id: subject?.identityId,
        aal: subject?.aal,
        duration_ms: Math.round(seconds * 1e6) / 1e3,
        detail: 'detail' in decision ? decision.detail : undefined,
      },
      'check',
    );
  };
}

function pathWithoutQuery(path: string): string {
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}
