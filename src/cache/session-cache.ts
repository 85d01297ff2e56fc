import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema';
import type { KratosSession, CallContext, SessionSource, LookupOptions, WhoamiOutcome } from '../kratos/types';
import type { Credential } from '../request/credentials';
import { callBudget } from '../kratos/budget';
import { credentialKey } from './credential-key';
import { SingleFlight, within } from './single-flight';

export type CacheResult = 'hit' | 'miss' | 'stale' | 'coalesced';

// A cached session stops being served this long before Kratos expires it, so clock skew and
// request time never let an expired session through.
const EXPIRY_MARGIN_MS = 1_000;

type Entry =
  | { kind: 'active'; session: KratosSession; freshUntil: number; storedAt: number }
  | { kind: 'unauthenticated'; freshUntil: number };

/**
 * whoami results by credential hash. Positive results live for min(cache.ttl, session expiry
 * minus a margin); 401s for cache.negative_ttl; 403 session_aal2_required and failures never.
 * With cache.stale_if_error, a positive entry may outlive its TTL to stand in while Kratos fails.
 */
export class SessionCache implements SessionSource {
  private readonly entries: LRUCache<string, Entry> | undefined;
  private readonly flights = new SingleFlight<WhoamiOutcome>();

  constructor(
    private readonly upstream: SessionSource,
    private readonly settings: Config['cache'],
    private readonly count: (result: CacheResult) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    const enabled = settings.max_entries > 0 && (settings.ttl > 0 || settings.negative_ttl > 0);
    this.entries = enabled ? new LRUCache<string, Entry>({ max: settings.max_entries, ttl: Math.max(settings.ttl, settings.negative_ttl) + settings.stale_if_error, ttlAutopurge: false }) : undefined;
  }

  async whoami(credential: Credential, context: CallContext, options: LookupOptions = {}): Promise<WhoamiOutcome> {
    const key = credentialKey(credential);
    const now = this.now();
    const entry = this.entries?.get(key);
    if (!options.fresh && entry && now < entry.freshUntil && (entry.kind !== 'active' || now < entry.session.expiresAt - EXPIRY_MARGIN_MS)) {
      this.count('hit');
      return entry.kind === 'active' ? { kind: 'active', session: entry.session, cached: true } : { kind: 'unauthenticated' };
    }

    const flight = this.flights.run(key, () => this.upstream.whoami(credential, context));
    // A caller joining someone else's call still answers by its own deadline.
    const outcome = flight.joined
      ? await within(flight.promise, callBudget(Infinity, context, now), { kind: 'unavailable', detail: 'no time left waiting for a shared whoami call' })
      : await flight.promise;
    if (outcome.kind === 'unavailable') {
      const stale = this.staleStandIn(entry);
      if (stale) {
        this.count('stale');
        return { kind: 'active', session: stale, cached: true, stale: true };
      }
    }
    this.count(flight.joined ? 'coalesced' : 'miss');
    if (!flight.joined) this.store(key, outcome);
    return outcome;
  }

  /** How many results are held (for tests and the memory benchmark). */
  get size(): number {
    return this.entries?.size ?? 0;
  }

  private store(key: string, outcome: WhoamiOutcome): void {
    if (!this.entries) return;
    const now = this.now();
    if (outcome.kind === 'active') {
      const ttl = Math.min(this.settings.ttl, outcome.session.expiresAt - EXPIRY_MARGIN_MS - now);
      if (ttl <= 0) return;
      this.entries.set(key, { kind: 'active', session: outcome.session, freshUntil: now + ttl, storedAt: now }, { ttl: ttl + this.settings.stale_if_error });
    } else if (outcome.kind === 'unauthenticated') {
      // Kratos says the session ended (revoked, expired, identity deactivated): it must never
      // stand in as stale again, whether or not the 401 itself is kept.
      if (this.settings.negative_ttl > 0) this.entries.set(key, { kind: 'unauthenticated', freshUntil: now + this.settings.negative_ttl }, { ttl: this.settings.negative_ttl });
      else this.entries.delete(key);
    } else if (outcome.kind === 'aal_refused') {
      // Turns into a 200 right after step-up with the same credential: never kept, and whatever
      // was kept before is superseded.
      this.entries.delete(key);
    }
    // A failure says nothing about the session: what is cached stays (and may stand in as stale).
  }

  private staleStandIn(entry: Entry | undefined): KratosSession | undefined {
    if (this.settings.stale_if_error <= 0 || entry?.kind !== 'active') return undefined;
    const now = this.now();
    const young = now - entry.storedAt <= this.settings.ttl + this.settings.stale_if_error;
    return young && now < entry.session.expiresAt - EXPIRY_MARGIN_MS ? entry.session : undefined;
  }
}
