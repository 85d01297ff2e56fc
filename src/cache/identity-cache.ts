import { LRUCache } from 'lru-cache';
import type { AvailableAalOutcome, AvailableAalSource, CallContext } from '../kratos/types';
import type { CacheResult } from './session-cache';
import { SingleFlight, within } from './single-flight';

/**
 * The identity's available AAL by identity id, for cache.identity_ttl. Failures are not kept.
 * Trade-off: a second factor enrolled meanwhile is seen only when the entry expires.
 */
export class IdentityCache implements AvailableAalSource {
  private readonly entries: LRUCache<string, 'aal1' | 'aal2'> | undefined;
  private readonly flights = new SingleFlight<AvailableAalOutcome>();

  constructor(
    private readonly upstream: AvailableAalSource,
    ttlMs: number,
    maxEntries: number,
    private readonly count: (result: CacheResult) => void = () => {},
  ) {
    this.entries = ttlMs > 0 && maxEntries > 0 ? new LRUCache<string, 'aal1' | 'aal2'>({ max: maxEntries, ttl: ttlMs }) : undefined;
  }

  async availableAal(identityId: string, context: CallContext): Promise<AvailableAalOutcome> {
    const cached = this.entries?.get(identityId);
    if (cached) {
      this.count('hit');
      return { kind: 'known', aal: cached };
    }
    const flight = this.flights.run(identityId, () => this.upstream.availableAal(identityId, context));
    const outcome = flight.joined
      ? await within(flight.promise, context.deadline - Date.now(), { kind: 'unavailable', detail: 'no time left waiting for a shared identity call' })
      : await flight.promise;
    this.count(flight.joined ? 'coalesced' : 'miss');
    if (!flight.joined && outcome.kind === 'known') this.entries?.set(identityId, outcome.aal);
    return outcome;
  }
}
