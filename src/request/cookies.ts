/**
 * Finds one cookie's value across every `cookie` header line. Separators are ";" (RFC 6265,
 * and how HTTP/2 crumbs are rejoined) and "," (how Envoy joins repeated HTTP/1 header lines in
 * the `headers` map). The first non-empty occurrence wins; surrounding double quotes are dropped.
 */
export function findCookie(cookieLines: readonly string[], name: string): string | undefined {
  for (const line of cookieLines) {
    // Cheap pre-check: most requests carry many cookies and only one is ours.
    if (!line.includes(name)) continue;
    for (const pair of line.split(/[;,]/)) {
      const equals = pair.indexOf('=');
      if (equals === -1 || pair.slice(0, equals).trim() !== name) continue;
      // An empty value can never be decoded by Kratos, which then tries the next one.
      const value = unquote(pair.slice(equals + 1).trim());
      if (value) return value;
    }
  }
  return undefined;
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}
