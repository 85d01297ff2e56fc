import { authorize, refusal, type AuthorizeDependencies, type Reading } from '../authorize';
import type { Decision, DecisionFacts } from '../decision/decision';
import { readCheckRequest } from './check-request';
import { toCheckResponse, type Metadata } from './check-response';
import type { CallMetadata } from '../grpc/server';
import type { CheckRequest, CheckResponse, UnreadableCheckRequest } from './messages';

/**
 * One Check call: its message, when its caller gives up (Date.now() ms, Infinity for never), and
 * the call's own request headers (Envoy's gRPC metadata, e.g. its trace context), read-only.
 */
export type CheckFunction = (request: CheckRequest | UnreadableCheckRequest, deadline: number, metadata: CallMetadata) => Promise<CheckResponse>;

/** The metadata of a check that is no gRPC call (the CLI's trace): no header at all. */
export const NO_METADATA: CallMetadata = Object.freeze({});

/** CheckRequest in, CheckResponse out: read → decide → answer → encode, observed once. */
export function createCheck(deps: AuthorizeDependencies): CheckFunction {
  return async (request, deadline) => {
    const started = performance.now();
    const { decision, facts, answer } = await authorize('grpc', readingOf(request), deadline, deps, started);
    return toCheckResponse(answer, metadataOf(decision, facts));
  };
}

function readingOf(request: CheckRequest | UnreadableCheckRequest): Reading {
  if ('unreadable' in request) return refusal(request.unreadable === 'too_large' ? 'request_too_large' : 'bad_request', request.detail);
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
