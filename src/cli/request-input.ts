import type { CheckRequest } from '../envoy/messages';

/** A request as an operator writes it on the command line or in a tests file. */
export interface RequestInput {
  method: string;
  url: string;
  /** Header lines in order, names as written. */
  headers: ReadonlyArray<readonly [name: string, value: string]>;
  contextExtensions: Readonly<Record<string, string>>;
}

/** scheme://authority then the path and query exactly as written (no dot segments resolved, nothing decoded). */
const ABSOLUTE_URL = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)/;

/**
 * The CheckRequest Envoy would send for the request, with encode_raw_headers on (one entry per
 * header line, as envoy/envoy.yaml configures it). The URL is not parsed with `new URL()`, which
 * would resolve `/public/../admin` before the policy ever saw it: like `curl --path-as-is`, the
 * path is what a client could put on the wire.
 */
export function checkRequestFor(input: RequestInput): CheckRequest | { problem: string } {
  const match = ABSOLUTE_URL.exec(input.url);
  if (!match) return { problem: `${input.url}: not an absolute URL such as https://app.example.com/path` };
  const [, scheme = '', authority = '', rest = ''] = match;
  const path = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  const lines: Array<readonly [string, string]> = [[':authority', authority], [':path', path], [':method', input.method], [':scheme', scheme], ...input.headers];
  return {
    attributes: {
      request: {
        http: {
          method: input.method,
          path,
          host: authority,
          scheme,
          header_map: { headers: lines.map(([key, value]) => ({ key: key.toLowerCase(), raw_value: Buffer.from(value, 'utf8') })) },
        },
      },
      context_extensions: { ...input.contextExtensions },
    },
  };
}

/** `name: value` as curl's -H takes it. */
export function parseHeaderLine(line: string): readonly [string, string] | undefined {
  const colon = line.indexOf(':');
  if (colon <= 0) return undefined;
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}
