const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const MILLISECONDS_PER_UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "150ms", "2s", "1.5m", "1h" or "0" into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Number(amount) * (MILLISECONDS_PER_UNIT[unit as string] as number);
}
