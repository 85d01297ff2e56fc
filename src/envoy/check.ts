import { answer } from '../answer/answer';
import type { LoginUrlSettings } from '../answer/login-url';
import { decide, type DecisionDependencies } from '../decide';
import { factsOf, type Decision, type DecisionFacts } from '../decision';
import type { CheckRecord } from '../observability/check-observer';
import { readCheckRequest } from './check-request';
import { toCheckResponse, type Metadata } from './check-response';
import type { CheckRequest, CheckResponse } from './messages';

export interface CheckDependencies {
  decision: DecisionDependencies;
  loginUrl: LoginUrlSettings;
  observe: (record: CheckRecord) => void;
}

export type CheckFunction = (request: CheckRequest, deadline: number) => Promise<CheckResponse>;

/** CheckRequest in, CheckResponse out: read → decide → answer → encode, observed once. */
export function createCheck(deps: CheckDependencies): CheckFunction {
  return async (request, deadline) => {
    const started = performance.now();
    const read = readCheckRequest(request);
    const view = read.ok ? read.view : undefined;
    let decision: Decision;
    if (!read.ok) {
      decision = { kind: 'bad_request', detail: read.detail, credential: 'none', policy: 'none' };
    } else {
      try {
        decision = await decide(read.view, { requestId: read.view.requestId, deadline }, deps.decision);
      } catch (error) {
        // A bug must never become an OK: it becomes a 500 denial and an error log line.
        decision = { kind: 'internal_error', detail: error instanceof Error ? error.message : String(error), credential: 'none', policy: 'none' };
      }
    }
    const facts = factsOf(decision);
    const response = toCheckResponse(answer(decision, view, deps.loginUrl), metadataOf(decision, facts));
    deps.observe({ decision, facts, view, seconds: (performance.now() - started) / 1000 });
    return response;
  };
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
