/**
 * Hostile request variants, generated from a seed: request-line forms, Host / :authority /
 * X-Forwarded-Host disagreements and ports, path encodings and dot segments, identity header
 * spellings, method overrides, forged front-door headers, oversized and repeated headers. A
 * variant holds no credential and no marker: each run makes its own, so a variant kept in the
 * corpus replays as written.
 */
import fc from 'fast-check';

export type Credential = 'none' | 'aal1-token' | 'aal1-bearer' | 'aal1-cookie' | 'aal2-token' | 'aal2-cookie';

export type RequestLine =
  | { form: 'origin' }
  /** `GET http://host/path`: the host may disagree with the Host header. */
  | { form: 'absolute'; host: string }
  /** `CONNECT host:port`. */
  | { form: 'authority'; host: string }
  /** `OPTIONS *`. */
  | { form: 'asterisk' };

export interface Variant {
  /** HTTP/2 is only sent to proxies that speak it in cleartext (Envoy). */
  protocol: 'http1' | 'http2';
  method: string;
  line: RequestLine;
  /** The path before the marker segment, as written on the wire. */
  path: string;
  /** Host header lines (none, one, or disagreeing duplicates); over HTTP/2 the first is :authority. */
  hosts: string[];
  /** Every other header line, in order, as spelt. */
  headers: Array<[string, string]>;
  credential: Credential;
}

const HOSTS = [
  'app.example.com',
  'app.example.com:8443',
  'admin.example.com',
  'ADMIN.Example.COM',
  'admin.example.com.',
  'admin.example.com:80',
  'admin.example.com:8443',
  'admin.example.com:',
  'secure.example.com',
  'secure.example.com:8443',
  'secure.example.com:1',
  'secure.example.com:08443',
  'secure.example.com.:8443',
  'SECURE.example.com:8443',
  '127.0.0.1',
  '[::ffff:127.0.0.1]',
  'admin.example.com@app.example.com',
  'app.example.com, admin.example.com',
] as const;

/** A path written to reach `segment`'s route while looking like something else to someone. */
const DISGUISES: ReadonlyArray<(segment: string) => string> = [
  (s) => `/${s}/x`,
  (s) => `/${s}`,
  (s) => `/${s}/`,
  (s) => `/${s.toUpperCase()}/x`,
  (s) => `/${s.charAt(0).toUpperCase()}${s.slice(1)}/x`,
  (s) => `/%${s.charCodeAt(0).toString(16)}${s.slice(1)}/x`,
  (s) => `/public/../${s}/x`,
  (s) => `/public/%2e%2e/${s}/x`,
  (s) => `/public/%2E%2E/${s}/x`,
  (s) => `/public/..%2f${s}/x`,
  (s) => `/public%2f..%2f${s}/x`,
  (s) => `/public/..%5c${s}/x`,
  (s) => `/public/..\\${s}/x`,
  (s) => `/public/..;/${s}/x`,
  (s) => `/public/./../${s}/x`,
  (s) => `//${s}/x`,
  (s) => `/./${s}/x`,
  (s) => `/${s};p=1/x`,
  (s) => `/${s}%2fx`,
  (s) => `/${s}%20/x`,
  (s) => `/${s}/x/..`,
  (s) => `/${s}.json`,
  (s) => `/x/../${s}/x`,
  (s) => `/${s}/x?/public/`,
];
const SEGMENTS = ['admin', 'public', 'data', 'app'] as const;

/** The header names the authorizer sets, each spelt with every separator and case a client might try. */
const IDENTITY_NAMES = [
  'x-kratos-identity-id',
  'x-kratos-session-id',
  'x-kratos-aal',
  'x-user-email',
  'x-kratos-jwt',
] as const;
const FORGED_VALUE = { 'x-kratos-aal': 'aal2' } as Record<string, string>;

function spelling(name: string, separators: readonly boolean[], casing: 'lower' | 'upper' | 'title'): string {
  let index = 0;
  const joined = name.replace(/-/g, () => (separators[index++ % separators.length] ? '_' : '-'));
  if (casing === 'upper') return joined.toUpperCase();
  return casing === 'title'
    ? joined.replace(/(^|[-_])([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase())
    : joined;
}

const forgedIdentity: fc.Arbitrary<[string, string]> = fc
  .record({
    name: fc.constantFrom(...IDENTITY_NAMES),
    separators: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    casing: fc.constantFrom('lower' as const, 'upper' as const, 'title' as const),
  })
  .map(({ name, separators, casing }): [string, string] => [
    spelling(name, separators, casing),
    FORGED_VALUE[name] ?? 'victim-0000',
  ]);

/** Headers some proxy or app reads as the request's method, URL or host. */
const FRONT_DOOR_FORGERIES: ReadonlyArray<[string, string]> = [
  ['x-forwarded-host', 'app.example.com'],
  ['x-forwarded-host', 'admin.example.com'],
  ['x-forwarded-host', 'secure.example.com:8443'],
  ['x-forwarded-uri', '/public/x'],
  ['x-forwarded-method', 'GET'],
  ['x-original-url', 'http://app.example.com/public/x'],
  ['x-original-uri', '/public/x'],
  ['x-original-method', 'GET'],
  ['x-envoy-original-path', '/public/x'],
  ['x-rewrite-url', '/admin/x'],
  ['forwarded', 'host=admin.example.com;proto=http'],
];

/** A POST that says it means DELETE, as method-override middlewares read it (Express's, Rack's, gorilla's). */
const METHOD_OVERRIDES = [
  'X-HTTP-Method-Override',
  'x-http-method-override',
  'X_HTTP_METHOD_OVERRIDE',
  'x-method-override',
] as const;

const oversized: fc.Arbitrary<Array<[string, string]>> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Array<[string, string]>>([]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(7_000, 70_000).map((size): Array<[string, string]> => [['x-pad', 'a'.repeat(size)]]),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 20, max: 120 })
      .map((count): Array<[string, string]> => Array.from({ length: count }, (_, i) => [`x-many-${i}`, 'v'])),
  },
);

const requestLine: fc.Arbitrary<RequestLine> = fc.oneof(
  { weight: 16, arbitrary: fc.constant({ form: 'origin' as const }) },
  { weight: 6, arbitrary: fc.constantFrom(...HOSTS).map((host) => ({ form: 'absolute' as const, host })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('admin.example.com:443', 'secure.example.com:8443')
      .map((host) => ({ form: 'authority' as const, host })),
  },
  { weight: 1, arbitrary: fc.constant({ form: 'asterisk' as const }) },
);

const hostLines: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...HOSTS).map((host) => [host]) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...HOSTS), fc.constantFrom(...HOSTS)).map(([a, b]) => [a, b]) },
  { weight: 1, arbitrary: fc.constant<string[]>([]) },
);

function variantArbitrary(http2: boolean): fc.Arbitrary<Variant> {
  return fc
    .record({
      http2: http2 ? fc.boolean() : fc.constant(false),
      method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'DELETE', 'DELETE', 'HEAD', 'PUT'),
      line: requestLine,
      path: fc
        .tuple(
          fc.oneof(fc.constant(DISGUISES[0] as (segment: string) => string), fc.constantFrom(...DISGUISES)),
          fc.constantFrom(...SEGMENTS),
        )
        .map(([disguise, segment]) => disguise(segment)),
      hosts: hostLines,
      // Each hostile dimension is often absent, so that the others are tried on their own too.
      identity: fc.oneof(
        fc.constant<Array<[string, string]>>([]),
        fc.array(forgedIdentity, { minLength: 1, maxLength: 3 }),
      ),
      forgeries: fc.oneof(
        fc.constant<Array<[string, string]>>([]),
        fc.subarray([...FRONT_DOOR_FORGERIES], { minLength: 1, maxLength: 2 }),
      ),
      override: fc.oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom(...METHOD_OVERRIDES) },
      ),
      padding: oversized,
      credential: fc.constantFrom<Credential>(
        'none',
        'aal1-token',
        'aal1-token',
        'aal1-bearer',
        'aal1-cookie',
        'aal1-cookie',
        'aal2-token',
        'aal2-cookie',
      ),
    })
    .map(
      ({
        http2: overHttp2,
        method,
        line,
        path,
        hosts,
        identity,
        forgeries,
        override,
        padding,
        credential,
      }): Variant => {
        // HTTP/2 has no request-line forms: its :path is origin-form.
        const sent: RequestLine = overHttp2 ? { form: 'origin' } : line;
        return {
          protocol: overHttp2 ? 'http2' : 'http1',
          method:
            sent.form === 'authority' ? 'CONNECT' : sent.form === 'asterisk' ? 'OPTIONS' : override ? 'POST' : method,
          line: sent,
          path,
          hosts,
          headers: [
            ...identity,
            ...forgeries,
            ...(override ? [[override, 'DELETE'] as [string, string]] : []),
            ...padding,
          ],
          credential,
        };
      },
    );
}

/** `count` variants from `seed`, the same ones every time. */
export function sampleVariants(seed: number, count: number, http2: boolean): Variant[] {
  return fc.sample(variantArbitrary(http2), { seed, numRuns: count });
}
