import type { CheckRequest } from '../envoy/messages';

/** A request as an operator writes it on the command line or in a tests file. */
export interface RequestInput {
  method: string;
  url: string;
  /** Header lines in order, names as written. */
  headers: ReadonlyArray<readonly [name: string, value: string]>;
  contextExtensions: Readonly<Record<string, string>>;
  /**
   * Envoy's default `headers` map (repeated lines joined with ",", as Istio sends them) instead
   * of `header_map` (encode_raw_headers, one entry per line).
   */
  joinedHeaders?: boolean;
}

/** scheme://authority then the path and query exactly as written (no dot segments resolved, nothing decoded). */
const ABSOLUTE_URL = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)/;

/**
 * The CheckRequest Envoy would send for the request, by default with encode_raw_headers on (one
 * entry per header line, as envoy/envoy.yaml configures it). The URL is not parsed with `new URL()`, which
 * would resolve `/public/../admin` before the policy ever saw it: like `curl --path-as-is`, the
 * path is what a client could put on the wire.
 */
export function checkRequestFor(input: RequestInput): CheckRequest | { problem: string } {
  const match = ABSOLUTE_URL.exec(input.url);
  if (!match) return { problem: `${input.url}: not an absolute URL such as https://app.example.com/path` };
  const [, scheme = '', authority = '', rest = ''] = match;
  const path = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  const given = input.headers.map(([key, value]) => [key.toLowerCase(), value] as const);
  const lines: ReadonlyArray<readonly [string, string]> = [
    [':authority', authority],
    [':path', path],
    [':method', input.method],
    [':scheme', scheme],
    ...given,
  ];
  const encoded = input.joinedHeaders
    ? { headers: joined(lines) }
    : { header_map: { headers: lines.map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'utf8') })) } };
  return {
    attributes: {
      request: { http: { method: input.method, path, host: authority, scheme, ...encoded } },
      context_extensions: { ...input.contextExtensions },
    },
  };
}

function joined(lines: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of lines) headers[key] = Object.hasOwn(headers, key) ? `${headers[key]},${value}` : value;
  return headers;
}

/** `name: value` as curl's -H takes it. */
export function parseHeaderLine(line: string): readonly [string, string] | undefined {
  const colon = line.indexOf(':');
  if (colon <= 0) return undefined;
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}
