/**
 * The V8 heap limits the service runs with, derived from its cache size. Left alone, V8 sizes
 * old space from the machine's memory and grows towards it lazily, so RSS ends far above the
 * live set; a limit close to what the caches can hold keeps RSS near it, and scavenges (the
 * per-check garbage) do not depend on it. The measurements behind each figure below are in the
 * README, "Memory: the process sizes its own heap".
 */

/** Everything but the caches: modules, gRPC and HTTP/2 state, metrics, with room to collect. */
export const BASE_HEAP_MIB = 56;

/**
 * Heap allowed per `cache.max_entries`: a cached session's live size, plus the 401 and identity
 * caches' small entries, and half as much again, so a full cache still leaves the collector
 * room to work in.
 */
export const HEAP_BYTES_PER_CACHE_ENTRY = 680;

/**
 * V8 grows the old generation by at most 1.3× its live size between full collections when its
 * limit is under 256 MiB (4× from 2 GiB up), so a limit sized for the cache would make the
 * cached check path collect several times as often. With the growth factor of a large heap,
 * the limit itself bounds the heap. Applied unless the operator set the flag.
 */
export const HEAP_GROWING_PERCENT = 300;

/**
 * The young generation, which every check's garbage passes through and which RSS keeps once
 * touched: three 8 MiB semi-spaces (as `--max-semi-space-size=8`), half of V8's default, for
 * less RSS and no slower cached checks (the smaller semi-spaces stay warmer in the CPU caches).
 * Applied unless the operator sets the flag.
 */
export const YOUNG_GENERATION_MIB = 24;

const MIB = 1024 * 1024;

/** Never less: with a small or disabled cache (every check a Kratos call) a tighter heap costs CPU per check. */
export const MIN_HEAP_MIB = 96;

export function heapLimitMiB(maxEntries: number): number {
  return Math.max(MIN_HEAP_MIB, BASE_HEAP_MIB + Math.ceil((maxEntries * HEAP_BYTES_PER_CACHE_ENTRY) / MIB));
}

/**
 * What the process holds outside V8's old space, besides the young generation: code, Node's and
 * gRPC's native state, sockets' buffers; the upper end of what was measured, so a capped heap
 * still fits.
 */
export const NON_HEAP_MIB = 64;

/**
 * The memory limit the process runs under (a container's cgroup), in bytes, or undefined when
 * there is none: Node reports "none" as undefined (20), 0 (22 on) or, under cgroup v1, a huge
 * number, so anything not below the machine's memory is no limit.
 */
export function memoryLimitBytes(constrained: number | undefined, totalMemory: number): number | undefined {
  return constrained !== undefined && constrained > 0 && constrained < totalMemory ? constrained : undefined;
}

/**
 * RSS of the cluster's primary (server.workers > 1): Node, what the heap-sizing thread leaves
 * behind, the ops server and prom-client's aggregation, no caches; 104 MiB measured at idle,
 * with room.
 */
export const PRIMARY_MIB = 112;

/**
 * The part of a memory limit one serving process may use: all of it for one process; with
 * several workers, an equal share of what the primary leaves (they all count against one limit).
 */
export function memoryShareBytes(limitBytes: number, workers: number): number {
  return workers === 1 ? limitBytes : Math.floor((limitBytes - PRIMARY_MIB * MIB) / workers);
}

/**
 * The old-space limit for a heap that needs `neededMiB`, under `limitBytes`: never so large that
 * a full heap, the young generation and the rest of the process outgrow the limit, so V8 collects
 * (or ends the worker with a heap error that says why) before the kernel kills the process
 * without a word. Never under BASE_HEAP_MIB, below which the service cannot run at all.
 */
export function heapLimitUnder(neededMiB: number, limitBytes: number | undefined): number {
  if (limitBytes === undefined) return neededMiB;
  const room = Math.floor(limitBytes / MIB) - YOUNG_GENERATION_MIB - NON_HEAP_MIB;
  return Math.min(neededMiB, Math.max(BASE_HEAP_MIB, room));
}

/** Whether the operator gave V8 `flag` (command line or NODE_OPTIONS; V8 takes `_` for `-`). */
export function givesV8Flag(flag: string, execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const named = (argument: string) => argument.split('=')[0]?.replace(/_/g, '-') === flag;
  return execArgv.some(named) || (nodeOptions ?? '').split(/\s+/).some(named);
}
