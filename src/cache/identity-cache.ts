import { LRUCache } from 'lru-cache';
import { callBudget } from '../kratos/budget';
import type { AvailableAalAnswer, AvailableAalSource, LookupContext, LookupOptions } from '../kratos/sources';
import type { CacheResult } from './session-cache';
import { SingleFlight, within } from './single-flight';

/**
 * The identity's available AAL by identity id, for cache.identity_ttl. Failures are not kept, nor
 * is a deactivated identity: denials must not outlive a reactivation.
 * Trade-off: a second factor enrolled meanwhile is seen only when the entry expires (a removed
 * one is seen at once: decide() confirms a cached aal2 before denying).
 */
export class IdentityCache implements AvailableAalSource {
  private readonly entries: LRUCache<string, 'aal1' | 'aal2'> | undefined;
  private readonly flights = new SingleFlight<AvailableAalAnswer>();

  constructor(
    private readonly upstream: AvailableAalSource,
    ttlMs: number,
    maxEntries: number,
    private readonly count: (result: CacheResult) => void = () => {},
  ) {
    this.entries =
      ttlMs > 0 && maxEntries > 0 ? new LRUCache<string, 'aal1' | 'aal2'>({ max: maxEntries, ttl: ttlMs }) : undefined;
  }

  async availableAal(
    identityId: string,
    context: LookupContext,
    options: LookupOptions = {},
  ): Promise<AvailableAalAnswer> {
    const cached = options.fresh ? undefined : this.entries?.get(identityId);
    if (cached) {
      this.count('hit');
      return { kind: 'known', aal: cached, cached: true };
    }
    const flight = this.flights.run(identityId, () => this.upstream.availableAal(identityId, context));
    const outcome = flight.joined
      ? await within(flight.promise, callBudget(Infinity, context), {
          kind: 'unavailable',
          detail: 'no time left waiting for a shared identity call',
        })
      : await flight.promise;
    this.count(flight.joined ? 'coalesced' : 'miss');
    if (!flight.joined && outcome.kind === 'known') this.entries?.set(identityId, outcome.aal);
    return outcome;
  }
}
