import { NO_CALL_TRACE, type CallTrace } from '../kratos/types';
import type { TraceHeaders } from '../request/trace-context';
import { UNTRACED_SIGNING, type Signing } from '../upstream/upstream-identity';
import type { CheckRecord, FrontDoor, TraceIds } from './check-observer';

/** One check's span, and the spans it parents: its Kratos calls and a JWT signing. */
export interface CheckTrace extends CallTrace {
  readonly ids: TraceIds | undefined;
  readonly signing: Signing;
  /** Records what was decided and ends the span: called once, after the check is observed. */
  end(record: CheckRecord): void;
}

/** Chosen once at start-up: OpenTelemetry (otel-tracing.ts) or NO_TRACING. */
export interface Tracing {
  /** `headers` is read only by a tracing that is on: the caller's context, to continue it. */
  startCheck(frontDoor: FrontDoor, headers: TraceHeaders): CheckTrace;
  /** Sends the spans still queued; later checks are not traced. */
  shutdown(): Promise<void>;
}

const NO_CHECK_TRACE: CheckTrace = Object.freeze({
  ids: undefined,
  signing: UNTRACED_SIGNING,
  startCall: NO_CALL_TRACE.startCall,
  end: () => {},
});

/** Tracing off: every check shares one inert trace; no header is read, no span made. */
export const NO_TRACING: Tracing = Object.freeze({
  startCheck: () => NO_CHECK_TRACE,
  shutdown: () => Promise.resolve(),
});
