/**
 * Every non-empty value of one cookie across the `cookie` header lines, in order, read as Go's
 * net/http readCookies (and so Kratos) reads them. Pairs are separated by ";" (RFC 6265, and how
 * HTTP/2 crumbs are rejoined); with `commaSeparatesLines` also by ",", which is how Envoy's
 * `headers` map joins repeated HTTP/1 Cookie lines. Inside one raw line a "," separates nothing
 * (Go keeps it in the value). Like Go, only ASCII white space around a pair and around the name
 * is trimmed (a value keeps what follows "="), surrounding double quotes are dropped, and a value
 * with a byte Go refuses is skipped, as Kratos never sees it.
 */
export function findCookies(cookieLines: readonly string[], name: string, commaSeparatesLines: boolean): string[] {
  const values: string[] = [];
  for (const line of cookieLines) {
    // Cheap pre-check: most requests carry many cookies and only one is ours.
    if (!line.includes(name)) continue;
    for (const part of line.split(commaSeparatesLines ? /[;,]/ : ';')) {
      const pair = trimAscii(part);
      const equals = pair.indexOf('=');
      if (equals === -1 || trimAscii(pair.slice(0, equals)) !== name) continue;
      const value = unquote(pair.slice(equals + 1));
      // An empty value can never be decoded by Kratos, which then tries the next one.
      if (value && GO_COOKIE_VALUE.test(value)) values.push(value);
    }
  }
  return values;
}

/**
 * textproto.TrimString: space, tab, CR and LF; not the other white space String.trim() knows.
 * A loop, not /\s+$/: a regular expression anchored at the end retries every start in a run of
 * white space, quadratic on a header that is mostly spaces.
 */
function trimAscii(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isAsciiSpace(text.charCodeAt(start))) start++;
  while (end > start && isAsciiSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isAsciiSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}

/** Go's validCookieValueByte: 0x20-0x7e except `"`, `;` and `\`. */
const GO_COOKIE_VALUE = /^[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*$/;

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}
