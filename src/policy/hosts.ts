/**
 * Host patterns as configured: `app.example.com` (exact) or `*.example.com` (any subdomain,
 * not the apex). Only return_to.allowed_hosts may have a port (a rule's host never does: see
 * config/schema.ts); such a pattern is compared with the host and the port, the port read as a
 * number as WHATWG URL reads it (`:08443` is 8443: a string compare of the authority missed it).
 */
export function hostMatches(pattern: string, host: string, authority: string): boolean {
  const subject = pattern.includes(':') ? withPort(host, authority) : host;
  if (pattern.startsWith('*.')) return subject.endsWith(pattern.slice(1)) && subject.length > pattern.length - 1;
  return subject === pattern;
}

/** `host` (already lower-cased, without trailing dot) with the authority's port, if it has one. */
function withPort(host: string, authority: string): string {
  const port = /:(\d+)$/.exec(authority)?.[1];
  return port === undefined ? host : `${host}:${Number(port)}`;
}
