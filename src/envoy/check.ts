import { answer } from '../answer/answer';
import type { LoginUrlSettings } from '../answer/login-url';
import { decide, type DecisionDependencies } from '../decide';
import { factsOf, type Decision, type DecisionFacts } from '../decision';
import type { CheckRecord } from '../observability/check-observer';
import type { RequestView, ViewResult } from '../request/view';
import { readCheckRequest } from './check-request';
import { toCheckResponse, type Metadata } from './check-response';
import type { CheckRequest, CheckResponse, UnreadableCheckRequest } from './messages';

export interface CheckDependencies {
  decision: DecisionDependencies;
  loginUrl: LoginUrlSettings;
  observe: (record: CheckRecord) => void;
}

export type CheckFunction = (request: CheckRequest | UnreadableCheckRequest, deadline: number) => Promise<CheckResponse>;

/** CheckRequest in, CheckResponse out: read → decide → answer → encode, observed once. */
export function createCheck(deps: CheckDependencies): CheckFunction {
  return async (request, deadline) => {
    const started = performance.now();
    const read: ViewResult = 'unreadable' in request ? { ok: false, detail: request.detail } : readCheckRequest(request);
    const view = read.ok ? read.view : undefined;
    const decision = read.ok ? await decideSafely(read.view, deadline, deps.decision) : refusal(read.detail, 'unreadable' in request && request.unreadable === 'too_large');
    const facts = factsOf(decision);
    const response = toCheckResponse(answer(decision, view, deps.loginUrl), metadataOf(decision, facts));
    deps.observe({ decision, facts, view, seconds: (performance.now() - started) / 1000 });
    return response;
  };
}

async function decideSafely(view: RequestView, deadline: number, deps: DecisionDependencies): Promise<Decision> {
  try {
    return await decide(view, { requestId: view.requestId, deadline }, deps);
  } catch (error) {
    // A bug must never become an OK: it becomes a 500 denial and an error log line.
    return { kind: 'internal_error', detail: error instanceof Error ? error.message : String(error), credential: 'none', policy: 'none' };
  }
}

/** A request that cannot be viewed is never decided, only refused. */
function refusal(detail: string, tooLarge: boolean): Decision {
  return { kind: tooLarge ? 'request_too_large' : 'bad_request', detail, credential: 'none', policy: 'none' };
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
