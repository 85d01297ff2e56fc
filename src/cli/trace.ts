import { NO_TRACING } from '../observability/tracing';
import type { Config } from '../config/schema';
import type { Decision } from '../decision/decision';
import type { Answer } from '../answer/answer';
import { upstreamRemovals } from '../answer/headers-to-remove';
import { authorize, authorizeDependencies } from '../authorize';
import { readingOf } from '../envoy/check';
import { grpcCodeOf } from '../envoy/check-response';
import { compilePolicy, type Policy, type Rule } from '../policy/policy';
import { demandText } from './demand-text';
import { traceSelection, type SelectionTrace } from '../policy/rule-trace';
import { credentialsToSet } from '../upstream/upstream-credentials';
import type { HeaderBag } from '../request/headers';
import { isBrowserNavigation, preferredMediaType } from '../request/navigation';
import { normalisePath } from '../request/path';
import { chooseCredential, type CredentialChoice } from './credential-facts';
import { checkRequestFor, type RequestInput } from './request-input';
import type { KratosLookup, RecordingKratos } from './session-facts';

/** What the proxy would do, in the vocabulary of policy tests. */
export type Outcome =
  | 'allow'
  | 'redirect_login'
  | 'redirect_step_up'
  | 'redirect_refresh'
  | '401'
  | '403'
  | '403_aal'
  | '403_refresh'
  | '503'
  | '400'
  | '413'
  | '500';

export interface ProxyResponse {
  /** 200 for "passed upstream". */
  status: number;
  grpcCode: number;
  /** Denials: the response headers; allows: the headers set on the upstream request. */
  headers: ReadonlyArray<readonly [string, string]>;
  /** Allows only: headers removed from the upstream request. */
  removedHeaders: readonly string[];
  body: string;
}

export interface Trace {
  request: { method: string; url: string; headers: ReadonlyArray<readonly [string, string]> };
  /** Set when the request could not be read at all (answered 400 before any rule). */
  unreadable: string | null;
  readings: ReadonlyArray<{ path: string; as: string }>;
  selection: SelectionTrace | null;
  rule: { name: string; outcome: Rule['outcome'] } | null;
  credential: CredentialChoice;
  style: { browser: boolean; because: string };
  requirement: string;
  kratos: readonly KratosLookup[];
  decision: Decision;
  response: ProxyResponse;
  outcome: Outcome;
  /** x-kratos-* headers set on the upstream request; empty when removed or denied. */
  identityHeaders: Readonly<Record<string, string>>;
}

/** Headers whose values help explain a decision and never carry a credential. */
const SHOWN_HEADERS = new Set([
  'accept',
  'sec-fetch-mode',
  'sec-fetch-dest',
  'sec-fetch-site',
  'origin',
  'access-control-request-method',
  'x-request-id',
  'content-type',
  'user-agent',
]);

/**
 * Runs one request through the service's own check (the gRPC door's reading of the CheckRequest
 * Envoy would send, then authorize: decide, answer) with Kratos replaced by `kratos`, and
 * explains each step. Nothing here decides anything itself.
 */
export async function traceRequest(
  config: Config,
  input: RequestInput,
  kratos: RecordingKratos,
  policy: Policy = compilePolicy(config.policy),
): Promise<Trace | { problem: string }> {
  const request = checkRequestFor(input);
  if ('problem' in request) return request;
  const reading = readingOf(request);
  const deps = authorizeDependencies(config, {
    policy,
    sessions: kratos.sessions,
    identities: kratos.identities,
    onKratosStricterThanPolicy: () => {},
    // Traces are about the decision and the x-kratos-* headers: no trait headers, nothing signed.
    upstream: undefined,
    observe: () => {},
    tracing: NO_TRACING,
  });
  const { decision, answer } = await authorize('grpc', reading, Infinity, deps);
  const view = reading.ok ? reading.view : undefined;
  const response = responseOf(answer);
  const headers = view?.headers;
  const credential = headers ? chooseCredential(headers, config.kratos.session_cookie) : { chosen: null, ignored: [] };
  const rule = [...policy.rules, policy.fallback].find((candidate) => candidate.name === decision.policy);
  return {
    request: {
      method: input.method,
      url: input.url,
      headers: input.headers.map(([name, value]) => [name, shownValue(name, value)] as const),
    },
    unreadable: view ? null : 'detail' in decision ? decision.detail : decision.kind,
    readings: view ? view.pathReadings.map((path) => ({ path, as: readingNames(view.path, path) })) : [],
    selection: view ? traceSelection(config.policy, policy, view) : null,
    rule: rule ? { name: rule.name, outcome: rule.outcome } : null,
    credential,
    style: headers ? styleOf(headers, decision) : { browser: false, because: 'the request could not be read' },
    requirement: requirementOf(rule, decision),
    kratos: kratos.lookups,
    decision,
    response,
    outcome: outcomeOf(decision, response),
    identityHeaders: Object.fromEntries(
      response.status === 200 ? response.headers.filter(([name]) => name.startsWith('x-kratos-')) : [],
    ),
  };
}

function shownValue(name: string, value: string): string {
  return SHOWN_HEADERS.has(name.toLowerCase()) ? value : `<${Buffer.byteLength(value)} bytes>`;
}

/** Which of path.ts's readings a reading is (pathReadings keeps each distinct string once). */
function readingNames(rawPath: string, reading: string): string {
  const asSent = rawPath.replace(/[?#].*$/s, '');
  // path.ts's WHATWG reading: new URL()'s pathname, the origin only anchoring the parse.
  const whatwg = new URL(`http://h${asSent.startsWith('/') ? '' : '/'}${asSent}`).pathname;
  const names = [
    ['as sent', asSent],
    ['WHATWG URL', whatwg],
    ['normalised', normalisePath(rawPath)],
  ].flatMap(([name, path]) => (path === reading ? [name] : []));
  return names.join(', ');
}

/** Why the answer would be a redirect or JSON; the verdict itself is isBrowserNavigation's. */
function styleOf(headers: HeaderBag, decision: Decision): { browser: boolean; because: string } {
  if (decision.credential === 'token')
    return { browser: false, because: 'a session token was sent: API-style whatever the headers say' };
  const browser = isBrowserNavigation(headers);
  const fetchMode = headers.first('sec-fetch-mode');
  if (fetchMode !== undefined) return { browser, because: `sec-fetch-mode: ${fetchMode}` };
  const accept = headers.first('accept');
  if (accept !== undefined)
    return {
      browser,
      because: `accept: ${accept} (best-ranked type ${preferredMediaType(accept) ?? 'none'}; no sec-fetch-mode)`,
    };
  return { browser, because: 'neither sec-fetch-mode nor accept was sent' };
}

function requirementOf(rule: Rule | undefined, decision: Decision): string {
  if (!rule) return 'none: no rule applied';
  const { outcome } = rule;
  if (outcome.kind === 'deny') return 'none: the rule denies every request';
  if (outcome.kind === 'anonymous')
    return 'none: anonymous (a credential present is still validated for identity headers)';
  if (decision.credential === 'cookie') return `cookie: ${demandText(outcome, 'cookie')}`;
  if (decision.credential === 'token') return `token: ${demandText(outcome, 'token')}`;
  return `a credential (cookie: ${demandText(outcome, 'cookie')}, token: ${demandText(outcome, 'token')}); none was sent`;
}

/** What Envoy does with the answer: the status and gRPC code it logs, the upstream request's headers. */
function responseOf(answer: Answer): ProxyResponse {
  if (answer.kind === 'deny')
    return {
      status: answer.status,
      grpcCode: grpcCodeOf(answer.status),
      headers: answer.headers,
      removedHeaders: [],
      body: answer.body,
    };
  // The stripped Cookie holds the app's other cookies: shown as a size, as the request's are.
  const upstream = [...answer.identityHeaders, ...credentialsToSet(answer.upstreamCredentials)].map(
    ([name, value]) => [name, name === 'cookie' ? shownValue(name, value) : value] as const,
  );
  return { status: 200, grpcCode: 0, headers: upstream, removedHeaders: upstreamRemovals(answer), body: '' };
}

function outcomeOf(decision: Decision, response: ProxyResponse): Outcome {
  if (response.status === 200) return 'allow';
  const stepUp = decision.kind === 'aal_too_low';
  const refresh = decision.kind === 'refresh_required';
  if (response.status === 302 || response.status === 303)
    return refresh ? 'redirect_refresh' : stepUp ? 'redirect_step_up' : 'redirect_login';
  if (response.status === 403 && stepUp) return '403_aal';
  if (response.status === 403 && refresh) return '403_refresh';
  return String(response.status) as Outcome;
}
