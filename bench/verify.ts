/**
 * Confirms a run measured what it claims: h2load and our raw client count any HTTP 200 as a
 * success, gRPC errors included, so the server's own counters must account for every answer.
 */
import { counterDeltas, sampleKey, type Samples } from './prometheus';

export const CHECKS = 'kratos_ext_authz_checks_total';
export const CACHE = 'kratos_ext_authz_cache_requests_total';
export const EXPECTED_ALLOW = sampleKey(CHECKS, { decision: 'allow', credential: 'cookie', reason: 'ok' });

export interface DecisionCheck {
  allowed: number;
  problems: string[];
}

/**
 * Every check between the two scrapes must be an allow for the cookie, and their number must
 * match what the client saw: at least every answered request, at most those plus the requests
 * still in flight when a timed client stopped (`slack`).
 */
export function checkDecisions(before: Samples, after: Samples, clientAnswered: number, slack: number): DecisionCheck {
  const deltas = counterDeltas(before, after, CHECKS);
  const allowed = deltas.get(EXPECTED_ALLOW) ?? 0;
  deltas.delete(EXPECTED_ALLOW);
  const problems: string[] = [];
  if (deltas.size > 0) problems.push(`unexpected decisions: ${[...deltas].map(([key, n]) => `${key} ×${n}`).join(', ')}`);
  if (allowed < clientAnswered) problems.push(`the client counted ${clientAnswered} answers but the service only ${allowed} allows (gRPC errors?)`);
  if (allowed > clientAnswered + slack) problems.push(`the service allowed ${allowed} checks, more than the ${clientAnswered} (+${slack} in flight) the client sent`);
  return { allowed, problems };
}

/** Floor server: it counts handler calls only, so the same bounds on that count. */
export function checkFloorAnswers(handled: number, clientAnswered: number, slack: number): string[] {
  if (handled < clientAnswered) return [`the client counted ${clientAnswered} answers but the floor handler ran only ${handled} times`];
  if (handled > clientAnswered + slack) return [`the floor handler ran ${handled} times, more than the ${clientAnswered} (+${slack}) sent`];
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
