/**
 * An :authority that WHATWG URL reads as a protected host (and port) is never allowed without a
 * session, however it is spelled: case, a trailing dot, leading zeros in the port.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { inProcessCheck } from './support/in-process';
import { holds } from './support/property';
import { checkRequestOf } from './support/request-arbitrary';

const PROTECTED = ['admin.example.com', '*.internal.example.com', 'ops.example.com:8443'];
const check = inProcessCheck({
  config: {
    policy: {
      rules: [
        { name: 'admin', hosts: PROTECTED.slice(0, 1), cookie: 'aal2' },
        { name: 'internal', hosts: PROTECTED.slice(1, 2), deny: true },
        { name: 'ops', hosts: PROTECTED.slice(2), deny: true },
        { name: 'open', anonymous: true },
      ],
    },
  },
});

/** The pattern matched against what URL reads: a pattern's port must be the URL's port. */
function protectedHost(url: URL): boolean {
  const host = url.hostname.replace(/\.$/, '');
  return PROTECTED.some((pattern) => {
    const [name = '', port] = pattern.split(':');
    if (port !== undefined && url.port !== port) return false;
    return name.startsWith('*.') ? host.endsWith(name.slice(1)) && host.length > name.length - 1 : host === name;
  });
}

const authority = fc
  .tuple(
    fc.constantFrom('admin', 'ADMIN', 'a.internal', 'X.Internal', 'ops', 'Ops', 'app', 'admin.example.com.evil'),
    fc.constantFrom('.example.com', '.EXAMPLE.com', '.example.com.', '.example.org', ''),
    fc.constantFrom('', ':8443', ':08443', ':008443', ':443', ':80', ':0', ':65535', ':65536', ':'),
  )
  .map((parts) => parts.join(''));

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
