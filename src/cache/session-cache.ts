import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema';
import type { KratosSession } from '../kratos/types';
import type { CacheResult, LookupContext, SessionSource, LookupOptions, SessionAnswer } from '../kratos/sources';
import type { Credential } from '../request/credentials';
import { callBudget } from '../kratos/budget';
import { credentialKey } from './credential-key';
import { SingleFlight, within } from './single-flight';

export type { CacheResult };

// A cached session stops being served this long before Kratos expires it, so clock skew and
// request time never let an expired session through.
const EXPIRY_MARGIN_MS = 1_000;

interface Positive {
  session: KratosSession;
  freshUntil: number;
  storedAt: number;
}

/**
 * How many 401s are held: a tenth of cache.max_entries, at least 1000, never more than
 * max_entries. Their own LRU, so a stream of junk credentials only evicts other junk, never a
 * cached session (or its stale-if-error stand-in).
 */
export function negativeCapacity(maxEntries: number): number {
  return Math.min(maxEntries, Math.max(1_000, Math.floor(maxEntries / 10)));
}

/**
 * whoami results by credential hash. Positive results live for min(cache.ttl, session expiry
 * minus a margin); 401s for cache.negative_ttl, in a smaller LRU of their own; 403
 * session_aal2_required and failures never. With cache.stale_if_error, a positive entry may
 * outlive its TTL to stand in while Kratos fails, unless Kratos has since said the session ended.
 */
export class SessionCache implements SessionSource {
  private readonly positives: LRUCache<string, Positive> | undefined;
  /** Values are the time until which the 401 is served. */
  private readonly negatives: LRUCache<string, number> | undefined;
  private readonly flights = new SingleFlight<SessionAnswer>();

  constructor(
    private readonly upstream: SessionSource,
    private readonly settings: Config['cache'],
    private readonly count: (result: CacheResult) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    const { max_entries: maxEntries, ttl, negative_ttl: negativeTtl, stale_if_error: staleIfError } = settings;
    this.positives =
      maxEntries > 0 && ttl > 0
        ? new LRUCache<string, Positive>({ max: maxEntries, ttl: ttl + staleIfError, ttlAutopurge: false })
        : undefined;
    this.negatives =
      maxEntries > 0 && negativeTtl > 0
        ? new LRUCache<string, number>({ max: negativeCapacity(maxEntries), ttl: negativeTtl, ttlAutopurge: false })
        : undefined;
  }

  async whoami(credential: Credential, context: LookupContext, options: LookupOptions = {}): Promise<SessionAnswer> {
    const key = credentialKey(credential);
    const now = this.now();
    const positive = this.positives?.get(key);
    if (!options.fresh) {
      if (positive && now < positive.freshUntil && now < positive.session.expiresAt - EXPIRY_MARGIN_MS) {
        this.record(context, 'hit');
        return { kind: 'active', session: positive.session, cached: true };
      }
      const negativeUntil = this.negatives?.get(key);
      if (negativeUntil !== undefined && now < negativeUntil) {
        this.record(context, 'hit');
        return { kind: 'unauthenticated' };
      }
    }

    const flight = this.flights.run(key, () => this.upstream.whoami(credential, context));
    // A caller joining someone else's call still answers by its own deadline.
    const outcome = flight.joined
      ? await within(flight.promise, callBudget(Infinity, context, now), {
          kind: 'unavailable',
          detail: 'no time left waiting for a shared whoami call',
        })
      : await flight.promise;
    if (outcome.kind === 'unavailable') {
      const stale = this.staleStandIn(positive);
      if (stale) {
        this.record(context, 'stale');
        return { kind: 'active', session: stale, cached: true, stale: true };
      }
    }
    this.record(context, flight.joined ? 'coalesced' : 'miss');
    if (!flight.joined) this.store(key, outcome);
    return outcome;
  }

  /** Counted for the metrics, and told to the check for its log line. */
  private record(context: LookupContext, result: CacheResult): void {
    this.count(result);
    context.cache = result;
  }

  /** How many results are held (for tests and the memory benchmark). */
  get size(): number {
    return (this.positives?.size ?? 0) + (this.negatives?.size ?? 0);
  }

  private store(key: string, outcome: SessionAnswer): void {
    const now = this.now();
    // One entry per key: whatever Kratos answered last supersedes what was kept before.
    if (outcome.kind === 'active') {
      this.negatives?.delete(key);
      const ttl = Math.min(this.settings.ttl, outcome.session.expiresAt - EXPIRY_MARGIN_MS - now);
      if (ttl > 0)
        this.positives?.set(
          key,
          { session: outcome.session, freshUntil: now + ttl, storedAt: now },
          { ttl: ttl + this.settings.stale_if_error },
        );
    } else if (outcome.kind === 'unauthenticated') {
      // Kratos says the session ended (revoked, expired, identity deactivated): it must never
      // stand in as stale again, whether or not the 401 itself is kept.
      this.positives?.delete(key);
      this.negatives?.set(key, now + this.settings.negative_ttl);
    } else if (outcome.kind === 'aal_refused') {
      // Turns into a 200 right after step-up with the same credential: never kept, and whatever
      // was kept before is superseded.
      this.positives?.delete(key);
      this.negatives?.delete(key);
    }
    // A failure says nothing about the session: what is cached stays (and may stand in as stale).
  }

  private staleStandIn(entry: Positive | undefined): KratosSession | undefined {
    if (this.settings.stale_if_error <= 0 || !entry) return undefined;
    const now = this.now();
    const young = now - entry.storedAt <= this.settings.ttl + this.settings.stale_if_error;
    return young && now < entry.session.expiresAt - EXPIRY_MARGIN_MS ? entry.session : undefined;
  }
}
