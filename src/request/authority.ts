/**
 * `:authority` as a plain `host[:port]`: a DNS name (labels of letters, digits, "-" and "_",
 * one optional trailing dot) or a bracketed IPv6 address, and digits for the port. Anything
 * else (`admin.example.com:abc`, `admin.example.com:80.`, `x@admin.example.com`,
 * `admin.example.com..`) is read differently by different upstreams — Node's `req.hostname`
 * sees `admin.example.com` in all of them — so no host rule could be trusted to cover it.
 */
const PLAIN_AUTHORITY = /^(\[[0-9a-f:.]+\]|(?:[a-z0-9_-]+\.)*[a-z0-9_-]+\.?)(?::\d{1,5})?$/i;

/**
 * WHATWG URL reads a name whose last label is a number as an IPv4 address (`1.2` is 1.0.0.2,
 * `0x7f.1` and `2130706433` are 127.0.0.1, `01.2.3.4` is octal) or refuses it (`a.1`): only the
 * dotted quad every parser reads alike is plain.
 */
const ENDS_IN_NUMBER = /(?:^|\.)(?:\d+|0x[0-9a-f]*)\.?$/i;
const DOTTED_QUAD = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.?$/;

/**
 * The lower-cased host without port or trailing dot, or undefined when the authority is not
 * plain. An IPv6 address comes in WHATWG URL's canonical form (`[0:0::1]` is `[::1]`), or not at
 * all when URL refuses it (`[1.2.3.4]`).
 */
export function hostOfAuthority(authority: string): string | undefined {
  const host = PLAIN_AUTHORITY.exec(authority)?.[1];
  if (host === undefined || (ENDS_IN_NUMBER.test(host) && !DOTTED_QUAD.test(host))) return undefined;
  return host.startsWith('[') ? canonicalIpv6(host) : host.toLowerCase().replace(/\.$/, '');
}

function canonicalIpv6(host: string): string | undefined {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
}
