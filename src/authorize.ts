import { answer, type Answer } from './answer/answer';
import type { Config } from './config/schema';
import type { LoginUrlSettings } from './answer/login-url';
import { decide, type DecisionDependencies } from './decision/decide';
import { factsOf, type Decision, type DecisionFacts } from './decision/decision';
import type { LookupContext } from './kratos/sources';
import type { CheckRecord, FrontDoor } from './observability/check-observer';
import { compilePolicy, type Policy } from './policy/policy';
import { kratosCredentialExtractor } from './request/credentials';
import type { HeaderBag } from './request/headers';
import { NO_TRACE_HEADERS, type TraceHeaders } from './request/trace-context';
import type { Tracing } from './observability/tracing';
import type { RequestView } from './request/view';
import { upstreamCredentialsReader, type UpstreamCredentials } from './upstream/upstream-credentials';
import type { UpstreamIdentity, UpstreamIdentityHeaders } from './upstream/upstream-identity';

export interface AuthorizeDependencies {
  decision: DecisionDependencies;
  loginUrl: LoginUrlSettings;
  /** identity_headers and upstream_jwt; undefined when neither is configured. */
  upstream: UpstreamIdentity | undefined;
  /** What the upstream gets of the credential headers, stripped per the rule or as sent. */
  upstreamCredentials: (headers: HeaderBag, strip: boolean) => UpstreamCredentials;
  observe: (record: CheckRecord) => void;
  /** Chosen at start-up: NO_TRACING unless tracing.enabled. */
  tracing: Tracing;
}

/** What a check needs that the configuration alone does not give: Kratos's answers, what is signed, who watches. */
export interface AuthorizeSources
  extends
    Pick<DecisionDependencies, 'sessions' | 'identities' | 'onKratosStricterThanPolicy'>,
    Pick<AuthorizeDependencies, 'upstream' | 'observe' | 'tracing'> {
  /** The compiled config.policy, when the caller has it already. */
  policy?: Policy;
}

/** The one wiring of configuration and sources into a check, shared by the service and the CLI. */
export function authorizeDependencies(config: Config, sources: AuthorizeSources): AuthorizeDependencies {
  const { session_cookie: cookieName, whoami_enforces_highest_available, browser_url, public_url } = config.kratos;
  return {
    decision: {
      policy: sources.policy ?? compilePolicy(config.policy),
      extractCredential: kratosCredentialExtractor(cookieName),
      sessions: sources.sessions,
      identities: sources.identities,
      whoamiEnforcesHighestAvailable: whoami_enforces_highest_available,
      onKratosStricterThanPolicy: sources.onKratosStricterThanPolicy,
    },
    loginUrl: { browserUrl: browser_url || public_url, allowedHosts: config.return_to.allowed_hosts },
    upstream: sources.upstream,
    upstreamCredentials: upstreamCredentialsReader(cookieName),
    observe: sources.observe,
    tracing: sources.tracing,
  };
}

/** What a front door read from its request: a view to decide, or a refusal that needs no decision. */
export type Reading = { ok: true; view: RequestView } | { ok: false; refusal: Decision };

export interface Authorized {
  decision: Decision;
  facts: DecisionFacts;
  answer: Answer;
}

/**
 * decide → answer, observed once: the part every front door shares. The door reads its own
 * request into a Reading before, and encodes the Answer in its own dialect after.
 */
export async function authorize(
  frontDoor: FrontDoor,
  reading: Reading,
  deadline: number,
  deps: AuthorizeDependencies,
  traceHeaders: TraceHeaders = NO_TRACE_HEADERS,
  started = performance.now(),
): Promise<Authorized> {
  const view = reading.ok ? reading.view : undefined;
  const trace = deps.tracing.startCheck(frontDoor, traceHeaders);
  const context: LookupContext = { requestId: view?.requestId, deadline, trace };
  let decision = reading.ok ? await decideSafely(reading.view, context, deps.decision) : reading.refusal;
  let upstream: UpstreamIdentityHeaders | undefined;
  if (decision.kind === 'allow' && deps.upstream) {
    try {
      upstream = await deps.upstream.headersFor(decision.subject?.session ?? null, trace.signing);
    } catch (error) {
      // An allow whose identity cannot be signed is not an allow: the upstream would trust less.
      decision = { ...internalError(error), credential: decision.credential, policy: decision.policy };
    }
  }
  const facts = factsOf(decision);
  // Denials send nothing upstream: only an allow's credential headers are worked out.
  const credentials =
    decision.kind === 'allow' && view ? deps.upstreamCredentials(view.headers, decision.stripCredentials) : undefined;
  const answered = answer(decision, view, deps.loginUrl, upstream, credentials);
  const record: CheckRecord = {
    frontDoor,
    decision,
    facts,
    view,
    cache: context.cache,
    seconds: (performance.now() - started) / 1000,
    trace: trace.ids,
  };
  deps.observe(record);
  trace.end(record);
  return { decision, facts, answer: answered };
}

/** A request that cannot be viewed (or may not be) is never decided, only refused. */
export function refusal(
  kind: 'bad_request' | 'request_too_large' | 'request_timeout' | 'untrusted_proxy',
  detail: string,
): Reading {
  return { ok: false, refusal: { kind, detail, credential: 'none', policy: 'none' } };
}

async function decideSafely(view: RequestView, context: LookupContext, deps: DecisionDependencies): Promise<Decision> {
  try {
    return await decide(view, context, deps);
  } catch (error) {
    // A bug must never become an OK: it becomes a 500 denial and an error log line.
    return internalError(error);
  }
}

function internalError(error: unknown): Decision {
  return {
    kind: 'internal_error',
    detail: error instanceof Error ? error.message : String(error),
    credential: 'none',
    policy: 'none',
  };
}
