/**
 * Every non-empty value of one cookie across the `cookie` header lines, in order. Pairs are
 * separated by ";" (RFC 6265, and how HTTP/2 crumbs are rejoined); with `commaSeparatesLines`
 * also by ",", which is how Envoy's `headers` map joins repeated HTTP/1 Cookie lines. Inside one
 * raw line a "," separates nothing (Go's cookie reader, and so Kratos, keeps it in the value).
 * Surrounding double quotes are dropped, as Go does.
 */
export function findCookies(cookieLines: readonly string[], name: string, commaSeparatesLines: boolean): string[] {
  const values: string[] = [];
  for (const line of cookieLines) {
    // Cheap pre-check: most requests carry many cookies and only one is ours.
    if (!line.includes(name)) continue;
    for (const pair of line.split(commaSeparatesLines ? /[;,]/ : ';')) {
      const equals = pair.indexOf('=');
      if (equals === -1 || pair.slice(0, equals).trim() !== name) continue;
      // An empty value can never be decoded by Kratos, which then tries the next one.
      const value = unquote(pair.slice(equals + 1).trim());
      if (value) values.push(value);
    }
  }
  return values;
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}
