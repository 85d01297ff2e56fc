import { authorize, refusal, type AuthorizeDependencies, type Reading } from '../authorize';
import type { Decision, DecisionFacts } from '../decision/decision';
import type { TraceHeaders } from '../request/trace-context';
import { readCheckRequest } from './check-request';
import { toCheckResponse, type Metadata } from './check-response';
import type { CheckRequest, CheckResponse, UnreadableCheckRequest } from './messages';

/** `traceHeaders` reads the call's metadata, where Envoy puts its ext_authz span (not in the CheckRequest). */
export type CheckFunction = (
  request: CheckRequest | UnreadableCheckRequest,
  deadline: number,
  traceHeaders?: TraceHeaders,
) => Promise<CheckResponse>;

/** CheckRequest in, CheckResponse out: read → decide → answer → encode, observed once. */
export function createCheck(deps: AuthorizeDependencies): CheckFunction {
  return async (request, deadline, traceHeaders) => {
    const started = performance.now();
    const { decision, facts, answer } = await authorize(
      'grpc',
      readingOf(request),
      deadline,
      deps,
      traceHeaders,
      started,
    );
    return toCheckResponse(answer, metadataOf(decision, facts));
  };
}

const REFUSAL_OF_UNREADABLE = {
  too_large: 'request_too_large',
  undecodable: 'bad_request',
  not_received: 'request_timeout',
} as const satisfies Record<UnreadableCheckRequest['unreadable'], Parameters<typeof refusal>[0]>;

/** What the gRPC door reads of a CheckRequest; the CLI reads its own requests the same way. */
export function readingOf(request: CheckRequest | UnreadableCheckRequest): Reading {
  if ('unreadable' in request) return refusal(REFUSAL_OF_UNREADABLE[request.unreadable], request.detail);
  const read = readCheckRequest(request);
  return read.ok ? read : refusal('bad_request', read.detail);
}

/** The facts Envoy keeps as dynamic metadata for access logs and later filters; no credential. */
function metadataOf(decision: Decision, { subject, verdict, reason }: DecisionFacts): Metadata {
  return {
    identity_id: subject?.identityId,
    session_id: subject?.sessionId,
    aal: subject?.aal,
    credential: decision.credential,
    decision: verdict,
    reason,
    policy: decision.policy,
  };
}
