import type { Decision, SessionDecision, Subject } from './decision';
import type { RefreshedCookie } from '../kratos/refreshed-cookie';
import type { KratosSession } from '../kratos/types';
import type { AvailableAalSource, LookupContext, SessionSource, LookupOptions } from '../kratos/sources';
import { demandFor, selectRule, type CredentialDemand, type Policy, type Requirement } from '../policy/policy';
import type { Credential } from '../request/credentials';
import type { HeaderBag } from '../request/headers';
import type { RequestView } from '../request/view';

export interface DecisionDependencies {
  policy: Policy;
  extractCredential: (headers: HeaderBag) => Credential | undefined;
  sessions: SessionSource;
  identities: AvailableAalSource;
  /** kratos.whoami_enforces_highest_available: a whoami 200 already means "highest available met". */
  whoamiEnforcesHighestAvailable: boolean;
  /** Kratos refused a session that our policy would accept at aal1: its required_aal is too strict. */
  onKratosStricterThanPolicy: () => void;
}

/** Request attributes in, decision out. Transport-agnostic and free of answering concerns. */
export async function decide(view: RequestView, context: LookupContext, deps: DecisionDependencies): Promise<Decision> {
  const selection = selectRule(deps.policy, view);
  const credential = deps.extractCredential(view.headers);
  const credentialKind = credential?.kind ?? 'none';
  if (selection.kind === 'ambiguous_path') {
    return {
      kind: 'bad_request',
      detail: 'the path reads differently decoded and as sent, and the two readings fall under different rules',
      credential: credentialKind,
      policy: 'none',
    };
  }
  if (selection.kind === 'ambiguous_method') {
    return {
      kind: 'bad_request',
      detail: 'a method override header or _method names a method that falls under a different rule',
      credential: credentialKind,
      policy: 'none',
    };
  }
  if (selection.kind === 'unknown_policy') {
    return {
      kind: 'internal_error',
      detail: `context_extensions names unknown policy "${selection.name}"`,
      credential: credentialKind,
      policy: selection.name,
    };
  }
  const { rule } = selection;
  const base = { credential: credentialKind, policy: rule.name } as const;

  if (rule.outcome.kind === 'deny') return { kind: 'rule_deny', ...base };
  const { stripCredentials } = rule;
  if (deps.policy.corsPreflight && isCorsPreflight(view))
    return { kind: 'allow', reason: 'cors_preflight', subject: null, stripCredentials, ...base };

  if (rule.outcome.kind === 'anonymous') {
    // No renewed cookie here: public pages are what shared caches store, and a cached Set-Cookie
    // would hand this session to every later visitor. The next protected request renews it.
    return {
      kind: 'allow',
      reason: 'anonymous',
      subject: credential?.wellFormed ? await anonymousSubject(credential, context, deps, base) : null,
      stripCredentials,
      ...base,
    };
  }

  if (!credential?.wellFormed) return { kind: 'unauthenticated', ...base };
  const demand = demandFor(rule.outcome, credential.kind);
  const first = await judgeCredential(credential, demand, context, deps, base, stripCredentials, {});
  // A cached session may predate a step-up or a re-authentication on the same session: ask
  // Kratos before sending the user to the second factor or the login they may just have
  // completed. One whose identity turned out deactivated is asked about too, so Kratos's 401
  // drops it from the session cache.
  if (!first.fromCache || !ASK_AGAIN_BEFORE.has(first.decision.kind)) return first.decision;
  return (await judgeCredential(credential, demand, context, deps, base, stripCredentials, { fresh: true })).decision;
}

const ASK_AGAIN_BEFORE: ReadonlySet<Decision['kind']> = new Set(['aal_too_low', 'refresh_required', 'unauthenticated']);

/**
 * On an anonymous route a credential is still looked up so identity headers flow, but only for
 * a session that would pass the default policy: an aal1 cookie of an identity with a second
 * factor must not make a page personalised. Anything unverifiable counts as no credential.
 */
async function anonymousSubject(
  credential: Credential,
  context: LookupContext,
  deps: DecisionDependencies,
  base: Pick<Decision, 'credential' | 'policy'>,
): Promise<Subject | null> {
  const outcome = await deps.sessions.whoami(credential, context);
  if (outcome.kind !== 'active') return null;
  // Only the subject is used: the upstream's credentials are the anonymous rule's business.
  const judged = await judgeSession(
    outcome.session,
    demandFor(deps.policy.defaults, credential.kind),
    context,
    deps,
    base,
    false,
  );
  return judged.kind === 'allow' ? judged.subject : null;
}

/** Only a decision resting on the session whoami vouched for carries the cookie it renewed. */
function carryingRefreshedCookie(decision: Decision, cookie: RefreshedCookie | undefined): Decision {
  return cookie && restsOnSession(decision) ? { ...decision, refreshedCookie: cookie } : decision;
}

function restsOnSession(decision: Decision): decision is SessionDecision {
  return (
    decision.kind === 'allow' ||
    decision.kind === 'refresh_required' ||
    (decision.kind === 'aal_too_low' && decision.subject !== null)
  );
}

async function judgeCredential(
  credential: Credential,
  demand: CredentialDemand,
  context: LookupContext,
  deps: DecisionDependencies,
  base: Pick<Decision, 'credential' | 'policy'>,
  stripCredentials: boolean,
  options: LookupOptions,
): Promise<{ decision: Decision; fromCache: boolean }> {
  const outcome = await deps.sessions.whoami(credential, context, options);
  const fromKratos = (decision: Decision) => ({ decision, fromCache: false });
  switch (outcome.kind) {
    case 'unauthenticated':
      return fromKratos({ kind: 'unauthenticated', ...base });
    case 'unavailable':
      return fromKratos({ kind: 'kratos_unavailable', detail: outcome.detail, ...base });
    case 'aal_refused':
      if (demand.aal === 'aal1') deps.onKratosStricterThanPolicy();
      return fromKratos({ kind: 'aal_too_low', subject: null, ...base });
    case 'active':
      return {
        decision: carryingRefreshedCookie(
          await judgeSession(outcome.session, demand, context, deps, base, stripCredentials),
          outcome.refreshedCookie,
        ),
        fromCache: outcome.cached === true,
      };
  }
}

/**
 * The AAL first, then the age: a session both too weak and too old is sent to one login that
 * asks for both (refresh=true with aal=aal2), not to two in a row.
 */
async function judgeSession(
  session: KratosSession,
  demand: CredentialDemand,
  context: LookupContext,
  deps: DecisionDependencies,
  base: Pick<Decision, 'credential' | 'policy'>,
  stripCredentials: boolean,
): Promise<Decision> {
  const byAal = await judgeAal(session, demand.aal, context, deps, base, stripCredentials);
  if (demand.maxAge === undefined || (byAal.kind !== 'allow' && byAal.kind !== 'aal_too_low')) return byAal;
  // Fail closed: without a time of authentication no age can be shown to be young enough. Not
  // a login redirect, which would loop while Kratos keeps answering without it.
  if (session.authenticatedAt === undefined)
    return {
      kind: 'kratos_unavailable',
      detail: 'whoami gave no valid authenticated_at, which max_age needs',
      ...base,
    };
  // A clock behind Kratos's reads a just-made session as from the future: that is age 0.
  const age = Math.max(0, Date.now() - session.authenticatedAt);
  if (age <= demand.maxAge) return byAal;
  return {
    kind: 'refresh_required',
    subject: subjectOf(session),
    stepUp: byAal.kind === 'aal_too_low',
    age,
    maxAge: demand.maxAge,
    ...base,
  };
}

async function judgeAal(
  session: KratosSession,
  requirement: Requirement,
  context: LookupContext,
  deps: DecisionDependencies,
  base: Pick<Decision, 'credential' | 'policy'>,
  stripCredentials: boolean,
): Promise<Decision> {
  const subject = subjectOf(session);
  const allowed: Decision = { kind: 'allow', reason: 'ok', subject, stripCredentials, ...base };
  const tooLow: Decision = { kind: 'aal_too_low', subject, ...base };
  if (session.aal === 'aal2') return allowed;
  // An aal0 session (no completed method) satisfies nothing; from here on the session is aal1.
  if (session.aal === 'aal0' || requirement === 'aal2') return tooLow;
  if (requirement === 'aal1') return allowed;
  if (deps.whoamiEnforcesHighestAvailable) return allowed;
  let available = await deps.identities.availableAal(session.identityId, context);
  // A cached aal2 may predate the removal of the second factor: confirm before denying.
  if (available.kind === 'known' && available.aal === 'aal2' && available.cached) {
    available = await deps.identities.availableAal(session.identityId, context, { fresh: true });
  }
  if (available.kind === 'unavailable') return { kind: 'kratos_unavailable', detail: available.detail, ...base };
  if (available.kind === 'identity_inactive') return { kind: 'unauthenticated', ...base };
  return available.aal === 'aal2' ? tooLow : allowed;
}

function subjectOf(session: KratosSession): Subject {
  return { identityId: session.identityId, sessionId: session.id, aal: session.aal, session };
}

/** A CORS preflight carries no credentials by design (Fetch spec), so it cannot be authenticated. */
function isCorsPreflight(view: RequestView): boolean {
  return view.method === 'OPTIONS' && view.headers.has('origin') && view.headers.has('access-control-request-method');
}
