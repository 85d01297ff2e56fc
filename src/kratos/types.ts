import type { TraitValues } from './traits';
import type { RefreshedCookie } from './refreshed-cookie';

export type Aal = 'aal0' | 'aal1' | 'aal2';

/** The part of a Kratos session the decision needs; never the credential that found it. */
export interface KratosSession {
  id: string;
  identityId: string;
  aal: Aal;
  /** Epoch milliseconds. */
  expiresAt: number;
  /**
   * When the session last authenticated (login, refresh or step-up), epoch milliseconds; absent
   * when whoami gave none that parses, and then no max_age can be met.
   */
  authenticatedAt?: number;
  /** authentication_methods[].method, each once, in order: the JWT's `amr`. */
  methods: readonly string[];
  /** Only the traits identity_headers and upstream_jwt.claims name, never the whole object. */
  traits: TraitValues;
}

/** What a call to Kratos needs to know of the check it serves; one object per check, never shared. */
export interface CallContext {
  requestId: string | undefined;
  /** Epoch milliseconds by which the answer must be on its way to Envoy; Infinity without one. */
  deadline: number;
  /** Spans for the check's Kratos calls; absent (tools, tests) or NO_CALL_TRACE: untraced. */
  trace?: CallTrace;
}

export type KratosEndpoint = 'whoami' | 'identity';

/** One Kratos call's client span, ended with the HTTP status or the failure word. */
export interface CallSpan {
  end(outcome: { status: number } | { failure: string }): void;
}

export interface CallTrace {
  /**
   * Starts the client span of a GET of `path` under the API at `base`, and writes its trace
   * context into `headers`, so Kratos's own server span is its child.
   */
  startCall(endpoint: KratosEndpoint, base: URL, path: string, headers: Record<string, string>): CallSpan;
}

const NO_CALL_SPAN: CallSpan = Object.freeze({ end: () => {} });

/** Tracing off: no span, no header; one shared object, so a check allocates nothing for it. */
export const NO_CALL_TRACE: CallTrace = Object.freeze({ startCall: () => NO_CALL_SPAN });

/** What whoami answered. */
export type WhoamiOutcome =
  /** `refreshedCookie`: whoami renewed the session cookie it was sent. */
  | { kind: 'active'; session: KratosSession; refreshedCookie?: RefreshedCookie }
  | { kind: 'unauthenticated' }
  /** 403 session_aal2_required: Kratos's own required_aal refused the session. */
  | { kind: 'aal_refused' }
  | { kind: 'unavailable'; detail: string };

/** What the admin identity API says of the identity's highest available AAL. */
export type AvailableAalOutcome =
  | { kind: 'known'; aal: 'aal1' | 'aal2' }
  /** The admin answer says `state: inactive`: Kratos has ended every session of the identity. */
  | { kind: 'identity_inactive' }
  | { kind: 'unavailable'; detail: string };
