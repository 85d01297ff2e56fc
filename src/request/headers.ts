/** Header lines to send, in order: one [name, value] per line. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/**
 * The request's headers, whichever way Envoy encoded them: the `headers` map (one value per
 * name, repeated headers already joined with ",") or `header_map` (one entry per header line,
 * encode_raw_headers in Envoy 1.30+). Lookups take lower-case names, as Envoy sends them.
 */
export interface HeaderBag {
  /** Every line received under that name, in order. */
  all(name: string): readonly string[];
  /** The first line received under that name. */
  first(name: string): string | undefined;
  has(name: string): boolean;
  /**
   * True when repeated header lines arrive joined into one value with "," (Envoy's `headers`
   * map): a "," may then separate two lines. False when every line stands alone (`header_map`).
   */
  readonly joinsRepeatedLines: boolean;
}

/** header_map: one entry per line, names lower-cased (a copy is made anyway). */
export class HeaderLines implements HeaderBag {
  readonly joinsRepeatedLines = false;
  private readonly lines = new Map<string, string[]>();

  add(name: string, value: string): void {
    const key = name.toLowerCase();
    const existing = this.lines.get(key);
    if (existing) existing.push(value);
    else this.lines.set(key, [value]);
  }

  all(name: string): readonly string[] {
    return this.lines.get(name) ?? [];
  }

  first(name: string): string | undefined {
    return this.lines.get(name)?.[0];
  }

  has(name: string): boolean {
    return this.lines.has(name);
  }
}

/**
 * Envoy's `headers` map, read in place rather than copied on every check. Envoy's keys are
 * lower-case (its proto requires it); a caller sending other keys only hides its own headers.
 */
export class JoinedHeaders implements HeaderBag {
  readonly joinsRepeatedLines = true;

  constructor(private readonly headers: Readonly<Record<string, string>>) {}

  all(name: string): readonly string[] {
    const value = this.first(name);
    return value === undefined ? [] : [value];
  }

  first(name: string): string | undefined {
    return Object.hasOwn(this.headers, name) ? this.headers[name] : undefined;
  }

  has(name: string): boolean {
    return Object.hasOwn(this.headers, name);
  }
}
