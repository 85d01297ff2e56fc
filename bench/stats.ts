/** Latency percentiles and small aggregates, all in milliseconds. */

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of an ascending array (no interpolation: every value was observed). */
function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarizeMicros(durationsUs: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(durationsUs).sort();
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 0.5) / 1000,
    p90Ms: percentile(sorted, 0.9) / 1000,
    p99Ms: percentile(sorted, 0.99) / 1000,
    p999Ms: percentile(sorted, 0.999) / 1000,
    maxMs: (sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN) / 1000,
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Concatenates per-round duration arrays so percentiles cover every measured request. */
export function concatDurations(parts: readonly ArrayLike<number>[]): Float64Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const part of parts) {
    all.set(Array.from(part), offset);
    offset += part.length;
  }
  return all;
}
