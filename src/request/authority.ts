/**
 * `:authority` as a plain `host[:port]`: a DNS name (labels of letters, digits, "-" and "_") or
 * a bracketed IPv6 address, and digits for the port. Anything else (`admin.example.com:abc`,
 * `admin.example.com:80.`, `x@admin.example.com`, `admin.example.com..`) is read differently by
 * different upstreams — Node's `req.hostname` sees `admin.example.com` in all of them — so no
 * host rule could be trusted to cover it. So is a trailing dot: nginx's `$host` and Envoy's
 * strip_trailing_host_dot drop it, while Caddy's host matcher and Envoy's default virtual-host
 * matching do not, and send `admin.example.com.` to the catch-all site (the real Caddy did).
 */
const PLAIN_AUTHORITY = /^(\[[0-9a-f:.]+\]|(?:[a-z0-9_-]+\.)*[a-z0-9_-]+)(?::\d{1,5})?$/i;

/**
 * WHATWG URL reads a name whose last label is a number as an IPv4 address (`1.2` is 1.0.0.2,
 * `0x7f.1` and `2130706433` are 127.0.0.1, `01.2.3.4` is octal) or refuses it (`a.1`): only the
 * dotted quad every parser reads alike is plain.
 */
const ENDS_IN_NUMBER = /(?:^|\.)(?:\d+|0x[0-9a-f]*)$/i;
const DOTTED_QUAD = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * The lower-cased host without port, or undefined when the authority is not plain. An IPv6 address
 * comes in WHATWG URL's canonical form (`[0:0::1]` is `[::1]`), or not at
 * all when URL refuses it (`[1.2.3.4]`) or when it spells an IPv4 address (see embedsIpv4).
 */
export function hostOfAuthority(authority: string): string | undefined {
  const host = PLAIN_AUTHORITY.exec(authority)?.[1];
  if (host === undefined || (ENDS_IN_NUMBER.test(host) && !DOTTED_QUAD.test(host))) return undefined;
  return host.startsWith('[') ? canonicalIpv6(host) : host.toLowerCase();
}

function canonicalIpv6(host: string): string | undefined {
  let canonical: string;
  try {
    canonical = new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
  return embedsIpv4(canonical) ? undefined : canonical;
}

/**
 * `[::ffff:10.0.0.1]` (IPv4-mapped, URL writes it `[::ffff:a00:1]`) and `[::10.0.0.1]`
 * (IPv4-compatible) are 10.0.0.1 to Go's net.ParseIP and to dual-stack sockets, but no host
 * rule for `10.0.0.1` would match them as names: refused, like `0x0a.0.0.1`.
 */
function embedsIpv4(canonical: string): boolean {
  const groups = ipv6Groups(canonical.slice(1, -1));
  const zeroUpTo = (end: number) => groups.slice(0, end).every((group) => group === 0);
  const mapped = zeroUpTo(5) && groups[5] === 0xffff;
  // `::` and `::1` are the unspecified and loopback addresses, not IPv4 ones.
  const compatible = zeroUpTo(7) ? (groups[7] ?? 0) > 1 : zeroUpTo(6);
  return mapped || compatible;
}

/** The eight 16-bit groups of an address in URL's canonical form (hex groups, at most one `::`). */
function ipv6Groups(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}
