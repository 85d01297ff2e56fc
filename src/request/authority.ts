/**
 * `:authority` as a plain `host[:port]`: a DNS name (labels of letters, digits, "-" and "_",
 * one optional trailing dot) or a bracketed IPv6 address, and digits for the port. Anything
 * else (`admin.example.com:abc`, `admin.example.com:80.`, `x@admin.example.com`,
 * `admin.example.com..`) is read differently by different upstreams — Node's `req.hostname`
 * sees `admin.example.com` in all of them — so no host rule could be trusted to cover it.
 */
const PLAIN_AUTHORITY = /^(\[[0-9a-f:.]+\]|(?:[a-z0-9_-]+\.)*[a-z0-9_-]+\.?)(?::\d{1,5})?$/i;

/** The lower-cased host without port or trailing dot, or undefined when the authority is not plain. */
export function hostOfAuthority(authority: string): string | undefined {
  const match = PLAIN_AUTHORITY.exec(authority);
  return match?.[1]?.toLowerCase().replace(/\.$/, '');
}
