import type { CredentialKind } from '../request/credentials';
import type { Aal, KratosSession } from '../kratos/types';
import type { RefreshedCookie } from '../kratos/refreshed-cookie';

/** Who the request is, once Kratos has vouched for the session. */
export interface Subject {
  identityId: string;
  sessionId: string;
  aal: Aal;
  /** The session as whoami described it: what identity_headers and upstream_jwt are made from. */
  session: KratosSession;
}

/** What was decided, never how it is answered (see answer/answer.ts for that). */
export type Decision = {
  /** Which credential the decision rests on. */
  credential: CredentialKind | 'none';
  /** The rule that applied: its name, `rules[i]`, or `default`. */
  policy: string;
} &
  /** `stripCredentials`: the rule takes the Kratos credential out of the upstream request. */
  (
    | {
        kind: 'allow';
        reason: 'ok' | 'anonymous' | 'cors_preflight';
        subject: Subject | null;
        stripCredentials: boolean;
        refreshedCookie?: RefreshedCookie;
      }
    | { kind: 'unauthenticated' }
    /** `subject` is null when Kratos itself refused the session's AAL (the identity stays unknown). */
    | { kind: 'aal_too_low'; subject: Subject | null; refreshedCookie?: RefreshedCookie }
    /**
     * The session authenticated longer ago than the rule's max_age (both in milliseconds);
     * `stepUp`: its AAL is short too, so the re-authentication must reach aal2.
     */
    | {
        kind: 'refresh_required';
        subject: Subject;
        stepUp: boolean;
        age: number;
        maxAge: number;
        refreshedCookie?: RefreshedCookie;
      }
    | { kind: 'rule_deny' }
    | { kind: 'kratos_unavailable'; detail: string }
    | { kind: 'bad_request'; detail: string }
    /** A CheckRequest over MAX_CHECK_REQUEST_BYTES: refused unread. */
    | { kind: 'request_too_large'; detail: string }
    /** A CheckRequest that did not arrive whole in time: refused unread. */
    | { kind: 'request_timeout'; detail: string }
    /** An HTTP front door called by a peer outside http_authz.trusted_proxies: refused undecided. */
    | { kind: 'untrusted_proxy'; detail: string }
    | { kind: 'internal_error'; detail: string }
  );

/**
 * The decisions that rest on a live session, and so may hand the client the session cookie
 * whoami renewed (`refreshedCookie`): an allow, or a step-up / re-authentication of that session.
 */
export type SessionDecision = Extract<Decision, { kind: 'allow' | 'aal_too_low' | 'refresh_required' }>;

/** The small fixed reason set used by metrics, logs and dynamic metadata. */
function reasonOf(decision: Decision): string {
  return decision.kind === 'allow' ? decision.reason : decision.kind;
}

/** allow, deny (the client's fault or the policy's) or error (ours or Kratos's). */
function verdictOf(decision: Decision): 'allow' | 'deny' | 'error' {
  switch (decision.kind) {
    case 'allow':
      return 'allow';
    case 'kratos_unavailable':
    case 'internal_error':
      return 'error';
    default:
      return 'deny';
  }
}

/** What logs, metrics and Envoy's dynamic metadata say about a decision, computed once a check. */
export interface DecisionFacts {
  verdict: 'allow' | 'deny' | 'error';
  reason: string;
  subject: Subject | null;
}

export function factsOf(decision: Decision): DecisionFacts {
  return {
    verdict: verdictOf(decision),
    reason: reasonOf(decision),
    subject: 'subject' in decision ? decision.subject : null,
  };
}
