/**
 * The one policy every app mirrors in its routes: each app names the route it served after the
 * rule that guards it (its virtual hosts first, then its paths), so the rule the authorizer
 * applied can be compared with the route the framework actually served.
 */
import { parseConfig } from '../../../src/config/load';
import { writeSigningKey } from '../../support/jwt';

/**
 * Finding 3's shape: a rule on one port of a host, while the apps serve the host whatever the
 * port. Where the config refuses a port in a rule's host (the fix of issue 18's finding 3), the
 * rule names the host alone, and the variants' port spellings must still meet it.
 */
function securePortHost(): string {
  const withPort = 'secure.example.com:8443';
  try {
    parseConfig({ kratos: { public_url: 'http://127.0.0.1:1' }, policy: { rules: [{ hosts: [withPort] }] } }, {});
    return withPort;
  } catch {
    return 'secure.example.com';
  }
}

/** The rules, in the order the apps route (first match wins, as the policy's own matching). */
const POLICY = {
  cookie: 'aal1',
  token: 'aal1',
  rules: [
    { name: 'admin-host', hosts: ['admin.example.com'], cookie: 'aal2', token: 'aal2' },
    { name: 'secure-port', hosts: [securePortHost()], cookie: 'aal2', token: 'aal2' },
    // envoy/envoy.yaml names this rule for every /admin route (context_extensions policy: admin).
    { name: 'admin', paths: ['/admin/*'], cookie: 'aal2', token: 'aal2' },
    { name: 'no-delete', paths: ['/data/*'], methods: ['DELETE'], deny: true },
    { name: 'public', paths: ['/public/*'], anonymous: true },
  ],
} as const;

/**
 * How much a rule asks, to compare the rule applied with the rule of the route served: a rule
 * that asks at least as much as the served route's is not a bypass (envoy/envoy.yaml names the
 * `admin` rule for /admin whatever the host, where an app may serve its admin-host).
 */
export function strictness(rule: string): number {
  const found = POLICY.rules.find((candidate) => candidate.name === rule);
  if (found === undefined) return rule === 'default' ? 1 : Number.NaN;
  if ('deny' in found) return 3;
  if ('anonymous' in found) return 0;
  return 2;
}

/** The identity headers the authorizer sets (identity_headers and upstream_jwt included). */
export const IDENTITY_HEADERS = {
  'identity-id': 'x-kratos-identity-id',
  'session-id': 'x-kratos-session-id',
  aal: 'x-kratos-aal',
  email: 'x-user-email',
  jwt: 'x-kratos-jwt',
} as const;
export type IdentityKey = keyof typeof IDENTITY_HEADERS;

/** The service's config: the policy, a trait header and the upstream JWT, front doors trusting loopback. */
export function serviceConfig(): { [section: string]: Record<string, unknown> } {
  return {
    policy: POLICY,
    http_authz: { trusted_proxies: ['127.0.0.0/8'] },
    identity_headers: { 'x-user-email': 'traits.email' },
    upstream_jwt: { issuer: 'https://authz.test', audience: 'app', keys: [writeSigningKey('ES256')] },
  };
}

/** Every variant's requests carry its marker in this header and as their last path segment. */
export const MARKER_HEADER = 'x-diff-marker';
const MARKER = /zz[0-9a-z]{8}/;

export function markerIn(text: string): string {
  return MARKER.exec(text)?.[0] ?? '';
}
