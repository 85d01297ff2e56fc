/**
 * An :authority that WHATWG URL reads as a protected host is never allowed without a session,
 * however it is spelt: case, a trailing dot, any port (the client's to write, so no rule has
 * one), an IPv4 address written as IPv6.
 */
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { inProcessCheck } from './support/in-process';
import { holds } from './support/property';
import { checkRequestOf } from './support/request-arbitrary';

const PROTECTED = ['admin.example.com', '*.internal.example.com', 'ops.example.com', '10.0.0.1'];
const check = inProcessCheck({
  config: {
    policy: {
      rules: [
        { name: 'admin', hosts: PROTECTED.slice(0, 1), cookie: 'aal2' },
        { name: 'internal', hosts: PROTECTED.slice(1, 2), deny: true },
        { name: 'ops', hosts: PROTECTED.slice(2, 3), deny: true },
        { name: 'address', hosts: PROTECTED.slice(3), deny: true },
        { name: 'open', anonymous: true },
      ],
    },
  },
});

// Node's BlockList reads an IPv4-mapped IPv6 address as its IPv4 address, as Go's net.ParseIP does.
const protectedAddress = new BlockList();
protectedAddress.addAddress('10.0.0.1', 'ipv4');

/** The pattern matched against the host URL reads, and an IPv6 literal against the address it carries. */
function protectedHost(url: URL): boolean {
  const host = url.hostname.replace(/\.$/, '');
  if (host.startsWith('[')) return protectedAddress.check(host.slice(1, -1), 'ipv6');
  return PROTECTED.some((pattern) =>
    pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern,
  );
}

const port = fc.constantFrom('', ':8443', ':08443', ':443', ':80', ':1', ':0', ':65535', ':65536', ':');
const name = fc
  .tuple(
    fc.constantFrom('admin', 'ADMIN', 'a.internal', 'X.Internal', 'ops', 'Ops', 'app', 'admin.example.com.evil'),
    fc.constantFrom('.example.com', '.EXAMPLE.com', '.example.com.', '.example.org', ''),
  )
  .map((parts) => parts.join(''));
const address = fc.constantFrom(
  '10.0.0.1',
  '[::ffff:10.0.0.1]',
  '[::FFFF:a00:1]',
  '[0:0:0:0:0:ffff:0a00:0001]',
  '[::ffff:0:a00:1]',
  '[::1]',
  '[2001:db8::a00:1]',
);
const authority = fc.tuple(fc.oneof(name, address), port).map((parts) => parts.join(''));

test('an authority WHATWG URL reads as a protected host is never allowed without a session', async (t) => {
  await holds(
    t,
    fc.asyncProperty(authority, async (raw) => {
      const response = await check(checkRequestOf([], 'raw', { authority: raw }));
      if ((response.status?.code ?? 0) !== 0) return;
      let url: URL;
      try {
        url = new URL(`https://${raw}/`);
      } catch {
        // No URL-based upstream can route it.
        return;
      }
      assert.ok(!protectedHost(url), `${raw} is allowed, but URL reads it as ${url.host}`);
    }),
    1000,
  );
});
