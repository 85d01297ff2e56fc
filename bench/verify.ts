/**
 * Confirms a run measured what it claims: h2load and our raw client count any HTTP 200 as a
 * success, gRPC errors included, so the server's own counters must account for every answer.
 */
import { counterDeltas, sampleKey, type Samples } from './prometheus';

export const CHECKS = 'kratos_ext_authz_checks_total';
export const CACHE = 'kratos_ext_authz_cache_requests_total';
export const EXPECTED_ALLOW = sampleKey(CHECKS, {
  front_door: 'grpc',
  decision: 'allow',
  credential: 'cookie',
  reason: 'ok',
});

export interface DecisionCheck {
  allowed: number;
  /** Kratos timeouts the caller chose to tolerate (see checkDecisions). */
  kratosUnavailable: number;
  problems: string[];
}

const KRATOS_UNAVAILABLE = sampleKey(CHECKS, {
  front_door: 'grpc',
  decision: 'error',
  credential: 'cookie',
  reason: 'kratos_unavailable',
});

/**
 * Every check between the two scrapes must be an allow for the cookie (up to `tolerated` may be
 * Kratos timeouts, for a long fill where one stall on the shared load core is no harness fault), and their number must
 * match what the client saw: at least every answered request, at most those plus the requests
 * still in flight when a timed client stopped (`slack`).
 */
export function checkDecisions(
  before: Samples,
  after: Samples,
  clientAnswered: number,
  slack: number,
  tolerated = 0,
): DecisionCheck {
  const deltas = counterDeltas(before, after, CHECKS);
  const allowed = deltas.get(EXPECTED_ALLOW) ?? 0;
  deltas.delete(EXPECTED_ALLOW);
  const unavailable = deltas.get(KRATOS_UNAVAILABLE) ?? 0;
  if (unavailable <= tolerated) deltas.delete(KRATOS_UNAVAILABLE);
  const kratosUnavailable = deltas.has(KRATOS_UNAVAILABLE) ? 0 : unavailable;
  const answered = allowed + kratosUnavailable;
  const problems: string[] = [];
  if (deltas.size > 0)
    problems.push(`unexpected decisions: ${[...deltas].map(([key, n]) => `${key} ×${n}`).join(', ')}`);
  if (answered < clientAnswered)
    problems.push(
      `the client counted ${clientAnswered} answers but the service only ${answered} checks (gRPC errors?)`,
    );
  if (answered > clientAnswered + slack)
    problems.push(
      `the service answered ${answered} checks, more than the ${clientAnswered} (+${slack} in flight) the client sent`,
    );
  return { allowed, kratosUnavailable, problems };
}

/** Floor server: it counts handler calls only, so the same bounds on that count. */
export function checkFloorAnswers(handled: number, clientAnswered: number, slack: number): string[] {
  if (handled < clientAnswered)
    return [`the client counted ${clientAnswered} answers but the floor handler ran only ${handled} times`];
  if (handled > clientAnswered + slack)
    return [`the floor handler ran ${handled} times, more than the ${clientAnswered} (+${slack}) sent`];
  return [];
}

export interface CacheCounts {
  hit: number;
  miss: number;
  coalesced: number;
  stale: number;
}

export function sessionCacheCounts(before: Samples, after: Samples): CacheCounts {
  const deltas = counterDeltas(before, after, CACHE);
  const of = (result: keyof CacheCounts): number => deltas.get(sampleKey(CACHE, { cache: 'session', result })) ?? 0;
  return { hit: of('hit'), miss: of('miss'), coalesced: of('coalesced'), stale: of('stale') };
}
