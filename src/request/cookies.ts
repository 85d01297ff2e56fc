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
export function findCookies(
  cookieLines: readonly string[],
  name: string,
  commaSeparatesLines: boolean,
  limit = Infinity,
): string[] {
  const values: string[] = [];
  const isSeparator = commaSeparatesLines ? isPairOrLineSeparator : isPairSeparator;
  for (const line of cookieLines) {
    for (let at = line.indexOf(name); at !== -1 && values.length < limit;) {
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

/** textproto.TrimString: both ends, with trimAsciiEnd's white space. */
function trimAscii(text: string): string {
  let start = 0;
  while (start < text.length && isAsciiSpace(text.charCodeAt(start))) start++;
  return trimAsciiEnd(text.slice(start));
}

function isAsciiSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}

/** Go's validCookieValueByte: 0x20-0x7e except `"`, `;` and `\`. */
const GO_COOKIE_VALUE = /^[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*$/;

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

/**
 * The `cookie` header lines without any pair named `name`, for the upstream: null when no line
 * holds one (leave the lines as sent), else the rest as one value, "" when nothing is left.
 * A line is a header line, and with `commaSeparatesLines` also each ","-separated part of one
 * (Envoy's joined `headers` map: findCookies reads the same lines). A line holding no such pair
 * is kept byte for byte; in one that does, the pairs are the ";"-separated pieces, and a pair is
 * the session cookie when its name, ASCII white space trimmed, is `name` (with or without "=",
 * whatever its value: Kratos or the app may read any of them). The kept pieces stay byte for
 * byte with the ";" before them; the line loses its leading ";" and the white space around it.
 * Lines are joined with "; ", as HTTP/2 joins cookie crumbs. Linear in the lines' length: no
 * piece list is built, so a line of millions of ";" costs one pass.
 */
export function cookiesWithout(
  cookieLines: readonly string[],
  name: string,
  commaSeparatesLines: boolean,
): string | null {
  let found = false;
  let rest = '';
  const keep = (text: string) => {
    if (text !== '') rest = rest === '' ? text : `${rest}; ${text}`;
  };
  for (const header of cookieLines) {
    if (!header.includes(name)) {
      keep(header);
      continue;
    }
    const semicolons = { at: -1 };
    let start = 0;
    while (start <= header.length) {
      const comma = commaSeparatesLines ? header.indexOf(',', start) : -1;
      const end = comma === -1 ? header.length : comma;
      const line = lineWithout(header, start, end, name, semicolons);
      if (line !== null) found = true;
      keep(line ?? header.slice(start, end));
      start = end + 1;
    }
  }
  return found ? rest : null;
}

/**
 * header[start, end) without the pairs named `name`, trimmed; null when it holds none.
 * `semicolons.at`: the first ";" at or after the last position asked about, shared by the lines
 * of one header so that indexOf never scans the same stretch twice.
 */
function lineWithout(
  header: string,
  start: number,
  end: number,
  name: string,
  semicolons: { at: number },
): string | null {
  let rest = '';
  let removed = false;
  // The kept run not yet copied: it starts at a piece, or at the ";" before one.
  let runStart = start;
  for (let piece = start; piece <= end;) {
    const semicolon = semicolonWithin(header, piece, end, semicolons);
    if (isPairNamed(header, piece, semicolon, name)) {
      // The run ends before the ";" that led to this pair (or at the line's start).
      rest += header.slice(
        rest === '' && header.charCodeAt(runStart) === SEMICOLON ? runStart + 1 : runStart,
        Math.max(runStart, piece - 1),
      );
      runStart = semicolon;
      removed = true;
    }
    piece = semicolon + 1;
  }
  if (!removed) return null;
  if (runStart < end)
    rest += header.slice(rest === '' && header.charCodeAt(runStart) === SEMICOLON ? runStart + 1 : runStart, end);
  return trimAscii(rest);
}

/** The first ";" in header[from, end), else end. */
function semicolonWithin(header: string, from: number, end: number, semicolons: { at: number }): number {
  if (semicolons.at < from) {
    const found = header.indexOf(';', from);
    semicolons.at = found === -1 ? header.length : found;
  }
  return Math.min(semicolons.at, end);
}

/** Whether header[start, end) is a pair (or a lone name) whose trimmed name is `name`. */
function isPairNamed(header: string, start: number, end: number, name: string): boolean {
  let from = start;
  while (from < end && isAsciiSpace(header.charCodeAt(from))) from++;
  if (!header.startsWith(name, from)) return false;
  let after = from + name.length;
  while (after < end && isAsciiSpace(header.charCodeAt(after))) after++;
  return after === end || header.charCodeAt(after) === EQUALS;
}
