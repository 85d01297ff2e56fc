const DURATION = /^(\d+)(?:\.(\d+))?(ms|s|m|h)$/;
const MILLISECONDS_PER_UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The longest duration any setting may have: Node.js runs no timer longer (a longer setTimeout
 * or AbortSignal.timeout fires after 1 ms instead, with only a warning), and no setting needs
 * more than these 24.8 days.
 */
const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Parses "150ms", "2s", "1.5m", "1h" or "0" into milliseconds; undefined when malformed. Exact
 * for every whole number of milliseconds ("1.1s" is 1100, not 1100.0000000000002): the digits
 * are scaled before the decimal point is placed.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const [, whole, fraction = '', unit] = match;
  return (Number(`${whole}${fraction}`) * (MILLISECONDS_PER_UNIT[unit as string] as number)) / 10 ** fraction.length;
}

/**
 * Why `text` cannot be a duration setting, or undefined when it can: malformed, or not a whole
 * number of milliseconds (timers and caches take whole milliseconds; "1.5ms" stopped start-up
 * after passing check-config), or longer than MAX_DURATION_MS.
 */
export function durationProblem(text: string): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined) return `"${text}" is not a duration (use e.g. 150ms, 2s, 1m)`;
  if (ms > MAX_DURATION_MS)
    return `"${text}" is too long: at most ${MAX_DURATION_MS}ms (about 596h), the longest timer Node.js runs`;
  if (!Number.isInteger(ms)) return `"${text}" is not a whole number of milliseconds`;
  return undefined;
}
