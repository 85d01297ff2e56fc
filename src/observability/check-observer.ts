import type { Decision, DecisionFacts } from '../decision/decision';
import type { CacheResult } from '../kratos/sources';
import type { RequestView } from '../request/view';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** Which listener and dialect a check arrived through (the `front_door` label and log field). */
export type FrontDoor = 'grpc' | 'forward_auth' | 'auth_request' | 'envoy_http';

export interface CheckRecord {
  frontDoor: FrontDoor;
  decision: Decision;
  facts: DecisionFacts;
  view: RequestView | undefined;
  /** How the last whoami lookup of the check was answered; absent when none was made. */
  cache: CacheResult | undefined;
  seconds: number;
  /** The check's span when it is exported (tracing on, sampled): the log line names it. */
  trace: TraceIds | undefined;
}

/** The ids a check's log line carries, so the line and its trace find each other. */
export interface TraceIds {
  trace_id: string;
  span_id: string;
}

/**
 * One log line and one metric sample per answered check. Allows log at debug, denials at info,
 * errors at warn/error. Only fields listed here reach the log: never headers, never the query.
 */
export function checkObserver(logger: Logger, metrics: Metrics): (record: CheckRecord) => void {
  // prom-client hashes a labels object on every inc and observe: each label combination's child
  // is resolved once instead (a few dozen combinations exist: bounded).
  const counters = new Map<string, ReturnType<Metrics['checks']['labels']>>();
  const durations = new Map<FrontDoor, ReturnType<Metrics['checkDuration']['labels']>>();
  return ({ frontDoor, decision, facts: { verdict, reason, subject }, view, cache, seconds, trace }) => {
    const { credential } = decision;
    const key = `${frontDoor} ${verdict} ${credential} ${reason}`;
    (
      counters.get(key) ??
      remembered(counters, key, metrics.checks.labels({ front_door: frontDoor, decision: verdict, credential, reason }))
    ).inc();
    (
      durations.get(frontDoor) ??
      remembered(durations, frontDoor, metrics.checkDuration.labels({ front_door: frontDoor }))
    ).observe(seconds);
    const level =
      verdict === 'allow'
        ? 'debug'
        : decision.kind === 'internal_error'
          ? 'error'
          : verdict === 'error'
            ? 'warn'
            : 'info';
    if (!logger.isLevelEnabled(level)) return;
    logger[level](
      {
        front_door: frontDoor,
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
        cache,
        // That whoami renewed the session cookie, never the cookie itself (it is a credential).
        cookie_renewed: 'refreshedCookie' in decision && decision.refreshedCookie !== undefined ? true : undefined,
        // What decided a refresh: how old the session was against the rule's max_age.
        ...(decision.kind === 'refresh_required'
          ? { age_s: Math.floor(decision.age / 1000), max_age_s: decision.maxAge / 1000, step_up: decision.stepUp }
          : undefined),
        duration_ms: Math.round(seconds * 1e6) / 1e3,
        detail: 'detail' in decision ? decision.detail : undefined,
        ...trace,
      },
      'check',
    );
  };
}

function remembered<K, V>(children: Map<K, V>, key: K, child: V): V {
  children.set(key, child);
  return child;
}

function pathWithoutQuery(path: string): string {
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}
