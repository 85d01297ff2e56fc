/**
 * The V8 old-space limit the service runs with, derived from its cache size.
 *
 * Left alone, V8 sizes old space from the machine's memory (about 4 GiB on this 24 GiB host)
 * and grows the heap lazily towards it, so a process whose live set is 70 MiB kept about
 * 380 MiB of RSS after 100000 distinct sessions. A limit close to what the caches can hold
 * keeps RSS near the live set; scavenges (the per-check garbage) do not depend on it.
 */

/** Everything but the caches: modules, gRPC and HTTP/2 state, metrics (≈ 34 MiB live, measured), with room to collect. */
export const BASE_HEAP_MIB = 64;

/**
 * Heap allowed per `cache.max_entries`: a cached session measured ≈ 350 bytes live, an
 * identity-cache entry (same bound) ≈ 150 and the 401 cache holds a tenth as many; about
 * twice that, so a full cache still leaves the collector headroom.
 */
export const HEAP_BYTES_PER_CACHE_ENTRY = 1024;

const MIB = 1024 * 1024;

export function heapLimitMiB(maxEntries: number): number {
  return BASE_HEAP_MIB + Math.ceil((maxEntries * HEAP_BYTES_PER_CACHE_ENTRY) / MIB);
}
