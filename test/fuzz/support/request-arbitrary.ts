/**
 * Random request header lines as a browser, a client or an attacker sends them, and the
 * CheckRequest Envoy makes of them in either header encoding.
 */
import * as fc from 'fast-check';
import type { CheckRequest } from '../../../src/envoy/messages';
import type { HeaderLine } from './kratos-oracle';

export const SESSION_COOKIE = 'ory_kratos_session';

/** One byte as a latin1 character (a header_map raw_value byte); no NUL, CR or LF, which HTTP parsers refuse. */
const anyByte = fc
  .integer({ min: 1, max: 255 })
  .filter((code) => code !== 0x0a && code !== 0x0d)
  .map((code) => String.fromCharCode(code));
const tokenChar = fc.constantFrom(...'abcXYZ019_-=.'.split(''));
/** Characters that change how a cookie or a token is read. */
const trickyChar = fc.constantFrom(' ', '\t', '"', '\\', ',', ';', '=', '\u00a0', '\u000b', '\u0001', '\u00ff');

const valueText = (minLength = 0) =>
  fc
    .array(
      fc.oneof(
        { weight: 8, arbitrary: tokenChar },
        { weight: 2, arbitrary: trickyChar },
        { weight: 1, arbitrary: anyByte },
      ),
      { minLength, maxLength: 14 },
    )
    .map((chars) => chars.join(''));

const cookieName = fc.constantFrom(
  SESSION_COOKIE,
  SESSION_COOKIE,
  SESSION_COOKIE,
  'other',
  `x${SESSION_COOKIE}`,
  `${SESSION_COOKIE}_x`,
  ` ${SESSION_COOKIE}`,
  `${SESSION_COOKIE}\t`,
  `\u00a0${SESSION_COOKIE}`,
  SESSION_COOKIE.toUpperCase(),
);
const cookiePair = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        cookieName,
        fc.constantFrom('=', '=', ' = ', '= '),
        fc.oneof(
          valueText(),
          valueText(1).map((text) => `"${text}"`),
        ),
      )
      .map((parts) => parts.join('')),
  },
  { weight: 1, arbitrary: cookieName },
  { weight: 1, arbitrary: valueText() },
);
const cookieLine = fc
  .array(fc.tuple(fc.constantFrom('; ', ';', ' ;\t', ';;'), cookiePair), { maxLength: 5 })
  .map((pairs) => pairs.map(([separator, pair], index) => (index === 0 ? pair : separator + pair)).join(''));

const authorization = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Bearer ', ''),
        fc.constantFrom(' ', ' ', ' ', '  ', ''),
        valueText(1),
      )
      .map((parts) => parts.join('')),
  },
  valueText(),
);

/** Names in any case, as a client sends them (Envoy lower-cases them on the way in). */
const anyCase = (name: string) => fc.constantFrom(name, name.toUpperCase(), name[0]?.toUpperCase() + name.slice(1));

const headerLine: fc.Arbitrary<HeaderLine> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(anyCase('cookie'), cookieLine) },
  { weight: 1, arbitrary: fc.tuple(anyCase('x-session-token'), fc.oneof(valueText(), fc.constant(''))) },
  { weight: 3, arbitrary: fc.tuple(anyCase('authorization'), authorization) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('accept', 'x-other'), valueText()) },
);

/** Envoy and Go's HTTP servers both strip a header value's surrounding spaces and tabs. */
const withoutOws = ([name, value]: HeaderLine): HeaderLine => [name, value.replace(/^[ \t]+|[ \t]+$/g, '')];

export type Encoding = 'raw' | 'joined';

/**
 * Header lines for one encoding. Envoy's `headers` map joins repeated lines with ",", so there
 * a "," inside a value cannot be told from a line break: joined requests carry none (no Kratos
 * cookie or token has one), raw ones (header_map) do.
 */
export function headerLines(encoding: Encoding): fc.Arbitrary<HeaderLine[]> {
  const line =
    encoding === 'raw'
      ? headerLine.map(withoutOws)
      : headerLine.map(([name, value]) => withoutOws([name.toLowerCase(), value.replaceAll(',', '')]));
  return fc.array(line, { maxLength: 6 });
}

/** The CheckRequest Envoy sends for these lines (values as raw bytes, or joined per name). */
export function checkRequestOf(
  lines: readonly HeaderLine[],
  encoding: Encoding,
  line: { method?: string; path?: string; authority?: string } = {},
): CheckRequest {
  const http = {
    method: line.method ?? 'GET',
    path: line.path ?? '/',
    host: line.authority ?? 'app.example.com',
    scheme: 'https',
  };
  if (encoding === 'raw') {
    return {
      attributes: {
        request: {
          http: {
            ...http,
            header_map: {
              headers: lines.map(([key, value]) => ({
                key: key.toLowerCase(),
                raw_value: Buffer.from(value, 'latin1'),
              })),
            },
          },
        },
      },
    };
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of lines) headers[key] = key in headers ? `${headers[key]},${value}` : value;
  return { attributes: { request: { http: { ...http, headers } } } };
}
