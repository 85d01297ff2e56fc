/**
 * Every non-empty value of one cookie across the `cookie` header lines, in order, read as Go's
 * net/http readCookies (and so Kratos) reads them, up to `limit` values. Pairs are separated by
 * ";" (RFC 6265, and how HTTP/2 crumbs are rejoined); with `commaSeparatesLines` also by ",",
 * which is how Envoy's `headers` map joins repeated HTTP/1 Cookie lines. Inside one raw line a
 * "," separates nothing (Go keeps it in the value). Like Go, only ASCII white space around a pair
 * and around the name is trimmed (a value keeps what follows "="), surrounding double quotes are
 * dropped, and a value with a byte Go refuses is skipped, as Kratos never sees it.
 *
 * The line is scanned for the name, never split: a line of millions of ";" would otherwise become
 * millions of strings (seconds of event loop and hundreds of MiB of heap for one 8 MiB header).
 * Only pairs that start with the name are looked at, and the scan stops at `limit` values.
 */
export function findCookies(cookieLines: readonly string[], name: string, commaSeparatesLines: boolean, limit = Infinity): string[] {
  const values: string[] = [];
  const isSeparator = commaSeparatesLines ? isPairOrLineSeparator : isPairSeparator;
  for (const line of cookieLines) {
    for (let at = line.indexOf(name); at !== -1 && values.length < limit; ) {
      const valueStart = pairValueStart(line, at, name, isSeparator);
      if (valueStart === -1) {
        at = line.indexOf(name, at + 1);
        continue;
      }
      let valueEnd = valueStart;
      while (valueEnd < line.length && !isSeparator(line.charCodeAt(valueEnd))) valueEnd++;
      const value = unquote(trimAsciiEnd(line.slice(valueStart, valueEnd)));
      // An empty value can never be decoded by Kratos, which then tries the next one.
      if (value && GO_COOKIE_VALUE.test(value)) values.push(value);
      at = line.indexOf(name, valueEnd);
    }
  }
  return values;
}

/**
 * Where the value starts when the `name` found at `at` is a whole pair name (only ASCII white
 * space between it and the previous separator or the line's start, and between it and "="),
 * else -1. Each run of white space is walked by the one occurrence next to it: linear overall.
 */
function pairValueStart(line: string, at: number, name: string, isSeparator: (code: number) => boolean): number {
  let before = at - 1;
  while (before >= 0 && isAsciiSpace(line.charCodeAt(before))) before--;
  if (before >= 0 && !isSeparator(line.charCodeAt(before))) return -1;
  let after = at + name.length;
  while (after < line.length && isAsciiSpace(line.charCodeAt(after))) after++;
  return line.charCodeAt(after) === EQUALS ? after + 1 : -1;
}

const EQUALS = 0x3d;
const SEMICOLON = 0x3b;
const COMMA = 0x2c;

function isPairSeparator(code: number): boolean {
  return code === SEMICOLON;
}

function isPairOrLineSeparator(code: number): boolean {
  return code === SEMICOLON || code === COMMA;
}

/**
 * textproto.TrimString's end: space, tab, CR and LF; not the other white space String.trim()
 * knows. A loop, not /\s+$/: a regular expression anchored at the end retries every start in a
 * run of white space, quadratic on a header that is mostly spaces.
 */
function trimAsciiEnd(text: string): string {
  let end = text.length;
  while (end > 0 && isAsciiSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(0, end);
}

function isAsciiSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}

/** Go's validCookieValueByte: 0x20-0x7e except `"`, `;` and `\`. */
const GO_COOKIE_VALUE = /^[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*$/;

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}
