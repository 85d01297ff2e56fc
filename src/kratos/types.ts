import type { Credential } from '../request/credentials';
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

/** How the session cache answered a whoami lookup. */
export type CacheResult = 'hit' | 'miss' | 'stale' | 'coalesced';

/** Per-check context for outbound calls; one object per check, never shared between checks. */
export interface CallContext {
  requestId: string | undefined;
  /** Epoch milliseconds by which the answer must be on its way to Envoy; Infinity without one. */
  deadline: number;
  /**
   * Written by the session cache: how the check's last whoami lookup was answered, for the
   * per-check log line. On the context rather than the outcome, which a coalesced call shares
   * with other checks, so no outcome is copied to carry it.
   */
  cache?: CacheResult;
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

export type WhoamiOutcome =
  /**
   * `cached`: served from the session cache; `stale`: past its TTL, standing in while Kratos
   * fails. `refreshedCookie`: whoami renewed the session cookie it was sent; only ever on an
   * answer from Kratos, as the cache keeps the session, never the cookie.
   */
  | { kind: 'active'; session: KratosSession; cached?: boolean; stale?: boolean; refreshedCookie?: RefreshedCookie }
  | { kind: 'unauthenticated' }
  /** 403 session_aal2_required: Kratos's own required_aal refused the session. */
  | { kind: 'aal_refused' }
  | { kind: 'unavailable'; detail: string };

export type AvailableAalOutcome =
  | { kind: 'known'; aal: 'aal1' | 'aal2'; cached?: boolean }
  /** The admin answer says `state: inactive`: Kratos has ended every session of the identity. */
  | { kind: 'identity_inactive' }
  | { kind: 'unavailable'; detail: string };

/** `fresh` skips cached answers: a cached AAL is never the only reason for a denial. */
export interface LookupOptions {
  fresh?: boolean;
}

export interface SessionSource {
  whoami(credential: Credential, context: CallContext, options?: LookupOptions): Promise<WhoamiOutcome>;
}

export interface AvailableAalSource {
  availableAal(identityId: string, context: CallContext, options?: LookupOptions): Promise<AvailableAalOutcome>;
}
