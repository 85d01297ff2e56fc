/**
 * The oracle, asked once per variant after it was sent: what the authorizer decided (its log
 * line for the variant's marker) against what the app served (its own report). A request the
 * app never served passes whatever the proxy answered: refusing is always allowed.
 */
import { verifyJwt, type Jwk } from '../../support/jwt';
import { strictness, type IdentityKey } from './policy';
import type { Served } from './upstreams';

/** The fields of the service's `check` log line the oracle reads (src/observability/check-observer.ts). */
export interface CheckLine {
  decision: string;
  policy: string;
  path: string;
  host?: string;
  identity_id?: string;
  aal?: string;
}

/** The session a variant carried, as the test made it. */
export interface SentSession {
  identityId: string;
  sessionId: string;
  email: string;
}

export interface Violation {
  /** A stable category, so that notes and the README can count them. */
  kind: 'served-unchecked' | 'weaker-rule' | 'identity-forged';
  /** The violation without its variant's particulars, to count distinct findings. */
  signature: string;
  detail: string;
}

export function judge(
  checks: readonly CheckLine[],
  served: readonly Served[],
  session: SentSession | undefined,
  jwks: readonly Jwk[],
): Violation[] {
  const allowed = checks.filter((check) => check.decision === 'allow');
  const violations: Violation[] = [];
  for (const request of served) {
    const where = `${request.framework} served route ${request.route} (host ${JSON.stringify(request.host)}, ${request.method})`;
    if (allowed.length === 0) {
      const seen = checks.map((check) => `${check.decision} by ${check.policy}`).join(', ') || 'no check at all';
      violations.push({
        kind: 'served-unchecked',
        signature: `served-unchecked: ${request.route}`,
        detail: `${where}; the authorizer: ${seen}`,
      });
      continue;
    }
    for (const check of allowed) {
      if (!(strictness(check.policy) >= strictness(request.route))) {
        violations.push({
          kind: 'weaker-rule',
          signature: `weaker-rule: served ${request.route}, applied ${check.policy}`,
          detail: `${where}; the authorizer applied ${check.policy} to host ${String(check.host)} path ${check.path}`,
        });
      }
      violations.push(...forgedIdentity(request, expectedIdentity(check, session), jwks));
    }
  }
  return violations;
}

type Expected = Partial<Record<IdentityKey, string>>;

/** What the authorizer set for this check: the session's identity when it had a subject, else nothing. */
function expectedIdentity(check: CheckLine, session: SentSession | undefined): Expected {
  if (check.identity_id === undefined || session === undefined || check.identity_id !== session.identityId) return {};
  return { 'identity-id': session.identityId, 'session-id': session.sessionId, aal: check.aal, email: session.email };
}

function forgedIdentity(request: Served, expected: Expected, jwks: readonly Jwk[]): Violation[] {
  const violations: Violation[] = [];
  for (const [key, value] of Object.entries(request.identity) as Array<[IdentityKey, string]>) {
    if (value === '') continue;
    const genuine =
      key === 'jwt'
        ? expected['session-id'] !== undefined && jwtOf(value, jwks) === expected['session-id']
        : value === expected[key];
    if (!genuine) {
      violations.push({
        kind: 'identity-forged',
        signature: `identity-forged: ${request.framework} ${key}`,
        detail: `${request.framework} read ${key} = ${JSON.stringify(value.slice(0, 120))} on route ${request.route}; the authorizer set ${JSON.stringify(expected[key] ?? (key === 'jwt' && expected['session-id'] ? 'a JWT' : null))}`,
      });
    }
  }
  return violations;
}

/** The session id a JWT the service signed names, or undefined for any other value. */
function jwtOf(value: string, jwks: readonly Jwk[]): string | undefined {
  try {
    return verifyJwt(value, jwks).payload.sid;
  } catch {
    return undefined;
  }
}
