/**
 * grpc-timeout (PROTOCOL-HTTP2.md): at most 8 ASCII digits and one unit, H M S m u n. What a
 * unit is worth in milliseconds.
 */
const MS_PER_UNIT: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

const TIMEOUT = /^(\d{1,8})([HMSmun])$/;

/** No grpc-timeout: the caller set no deadline. A malformed one is refused, not ignored. */
export type Timeout = { ok: true; ms: number } | { ok: false };

export function parseGrpcTimeout(value: string | undefined): Timeout {
  if (value === undefined) return { ok: true, ms: Infinity };
  const match = TIMEOUT.exec(value);
  const unit = match?.[2];
  if (!match?.[1] || !unit) return { ok: false };
  return { ok: true, ms: Number(match[1]) * (MS_PER_UNIT[unit] ?? NaN) };
}
