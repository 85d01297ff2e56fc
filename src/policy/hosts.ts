/**
 * Host patterns as configured: `app.example.com` (exact) or `*.example.com` (any subdomain,
 * not the apex). A pattern with a port is compared with the full authority.
 */
export function hostMatches(pattern: string, host: string, authority: string): boolean {
  const subject = pattern.includes(':') ? authority.toLowerCase() : host;
  if (pattern.startsWith('*.')) return subject.endsWith(pattern.slice(1)) && subject.length > pattern.length - 1;
  return subject === pattern;
}
