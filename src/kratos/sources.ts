import type { Credential } from '../request/credentials';
import type { AvailableAalOutcome, CallContext, WhoamiOutcome } from './types';

/**
 * How a check asks for Kratos's answers: from Kratos itself (client.ts) or through the caches in
 * front of it (src/cache/), which may answer from memory. The decision is written against these,
 * so it can tell an answer that may be old from one Kratos gave just now.
 */

/** How the session cache answered a whoami lookup. */
export type CacheResult = 'hit' | 'miss' | 'stale' | 'coalesced';

export interface LookupContext extends CallContext {
  /**
   * Written by the session cache: how the check's last whoami lookup was answered, for the
   * per-check log line. On the context rather than the answer, which a coalesced call shares
   * with other checks, so no answer is copied to carry it.
   */
  cache?: CacheResult;
}

/** `fresh` skips cached answers: a cached AAL is never the only reason for a denial. */
export interface LookupOptions {
  fresh?: boolean;
}

/**
 * A whoami outcome as a source gives it. `cached`: from the session cache; `stale`: past its
 * TTL, standing in while Kratos fails. A renewed cookie is only ever on an answer from Kratos,
 * as the cache keeps the session, never the cookie.
 */
export type SessionAnswer =
  | Exclude<WhoamiOutcome, { kind: 'active' }>
  | (Extract<WhoamiOutcome, { kind: 'active' }> & { cached?: boolean; stale?: boolean });

/** An available-AAL outcome as a source gives it; `cached`: from the identity cache. */
export type AvailableAalAnswer =
  | Exclude<AvailableAalOutcome, { kind: 'known' }>
  | (Extract<AvailableAalOutcome, { kind: 'known' }> & { cached?: boolean });

export interface SessionSource {
  whoami(credential: Credential, context: LookupContext, options?: LookupOptions): Promise<SessionAnswer>;
}

export interface AvailableAalSource {
  availableAal(identityId: string, context: LookupContext, options?: LookupOptions): Promise<AvailableAalAnswer>;
}
