/**
 * The request's headers, whichever way Envoy encoded them: the `headers` map (one value per
 * name, repeated headers already joined with ",") or `header_map` (one entry per header line,
 * encode_raw_headers in Envoy 1.30+). Names are lower-cased here so both encodings read alike.
 */
export class HeaderBag {
  private readonly values = new Map<string, string[]>();

  add(name: string, value: string): void {
    const key = name.toLowerCase();
    const existing = this.values.get(key);
    if (existing) existing.push(value);
    else this.values.set(key, [value]);
  }

  /** Every line received under that name, in order. */
  all(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }

  /** The first line received under that name. */
  first(name: string): string | undefined {
    return this.values.get(name)?.[0];
  }

  has(name: string): boolean {
    return this.values.has(name);
  }
}
