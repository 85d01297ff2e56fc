/**
 * What the service answers, for random requests through the whole check: no answer echoes a
 * credential it was sent (body, headers, Location, metadata), and a login URL's return_to only
 * ever leads back to an allowed host, over http(s), without CR, LF or other control characters.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import type { OfficialCheckResponse } from '../support/envoy-client';
import { BROWSER_URL, inProcessCheck } from './support/in-process';
import { holds } from './support/property';
import { checkRequestOf, SESSION_COOKIE } from './support/request-arbitrary';
import type { HeaderLine } from './support/kratos-oracle';

const RULES = [
  { name: 'admin', paths: ['/admin/*'], cookie: 'aal2', token: 'aal2' },
  { name: 'internal', paths: ['/internal/*'], deny: true },
  { name: 'public', paths: ['/public/*'], anonymous: true },
];

/** Every string an answer carries to Envoy, the client or the access log. */
function answerStrings(response: OfficialCheckResponse): string[] {
  const options = [
    ...(response.denied_response?.headers ?? []),
    ...(response.ok_response?.headers ?? []),
    ...(response.ok_response?.response_headers_to_add ?? []),
  ];
  return [
    response.status?.message ?? '',
    response.denied_response?.body ?? '',
    ...options.flatMap((option) => [option.header.key, option.header.value]),
    ...(response.ok_response?.headers_to_remove ?? []),
    ...Object.entries(response.dynamic_metadata?.fields ?? {}).flatMap(([key, value]) => [
      key,
      value.stringValue ?? '',
    ]),
  ];
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Distinctive credential values (no other part of a request holds a "Q"), some of them live sessions. */
const credential = fc.stringMatching(/^Q[A-Za-z0-9_-]{6,20}$/);
const live = (value: string) => value.length % 2 === 0;

const credentialLines = fc.array(
  fc.oneof(
    credential.map((value): HeaderLine => ['x-session-token', value]),
    fc
      .array(credential, { minLength: 1, maxLength: 3 })
      .map((values): HeaderLine => ['cookie', values.map((value) => `other=1; ${SESSION_COOKIE}=${value}`).join('; ')]),
    fc
      .tuple(fc.constantFrom('Bearer ', 'bearer ', 'Bearer  '), credential)
      .map(([scheme, value]): HeaderLine => ['authorization', scheme + value]),
  ),
  { minLength: 1, maxLength: 3 },
);
const navigation = fc.constantFrom<HeaderLine[]>(
  [],
  [['accept', 'text/html']],
  [['sec-fetch-mode', 'navigate']],
  [['accept', 'application/json']],
);
const requestPath = fc.constantFrom(
  '/',
  '/admin/x',
  '/internal/y',
  '/public/z',
  '/other',
  '/public/../admin',
  '/ADMIN',
);

describe('no answer echoes a credential', () => {
  const check = inProcessCheck({
    config: { policy: { rules: RULES } },
    sessionOf: (value) => {
      const token = /Q[A-Za-z0-9_-]+/.exec(value)?.[0];
      return token && live(token)
        ? {
            id: `session-${token.length}`,
            identityId: `identity-${token.length}`,
            aal: 'aal1',
            expiresAt: Date.now() + 60_000,
            methods: ['password'],
            traits: new Map(),
          }
        : undefined;
    },
  });

  test('body, headers, Location and metadata never hold a credential of the request', async (t) => {
    await holds(
      t,
      fc.asyncProperty(
        credentialLines,
        navigation,
        requestPath,
        fc.constantFrom('GET', 'POST'),
        async (lines, accept, path, method) => {
          const response = await check(checkRequestOf([...lines, ...accept], 'raw', { path, method }));
          const sent = lines.flatMap(([, value]) => value.match(/Q[A-Za-z0-9_-]+/g) ?? []);
          for (const text of answerStrings(response).flatMap((text) => [text, percentDecoded(text)])) {
            for (const value of sent) assert.ok(!text.includes(value), `${JSON.stringify(text)} holds ${value}`);
          }
        },
      ),
      3000,
    );
  });
});

/** A host name without the trailing dot of its fully qualified form: the same name in DNS. */
const dnsName = (host: string) => host.replace(/\.(?=$|:)/, '');

/** return_to.allowed_hosts patterns: an exact host, `*.domain` for its subdomains, a port for the whole authority. */
function hostAllowed(patterns: readonly string[], target: URL): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((pattern) => {
    const subject = dnsName(pattern.includes(':') ? target.host : target.hostname);
    return pattern.startsWith('*.')
      ? subject.endsWith(pattern.slice(1)) && subject.length > pattern.length - 1
      : subject === pattern;
  });
}

/** Every login URL an answer gives: Location, and the JSON bodies' redirect_browser_to. */
function loginUrls(response: OfficialCheckResponse): string[] {
  const urls = (response.denied_response?.headers ?? [])
    .filter((option) => option.header.key === 'location')
    .map((option) => option.header.value);
  const body = response.denied_response?.body;
  if (body) {
    const json = JSON.parse(body) as {
      redirect_browser_to?: string;
      error?: { details?: { redirect_browser_to?: string } };
    };
    urls.push(
      ...[json.redirect_browser_to, json.error?.details?.redirect_browser_to].filter(
        (url): url is string => url !== undefined,
      ),
    );
  }
  return urls;
}

const anyChar = fc.integer({ min: 0, max: 0x24f }).map((code) => String.fromCharCode(code));
const pathText = fc
  .array(
    fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(...'/admin/x?.%2f\\@:#'.split('')) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '\r\n',
          '\r',
          '\n',
          '\t',
          '\u0000',
          'javascript:',
          '//evil.example',
          '/\\evil.example',
          '%0d%0a',
        ),
      },
      { weight: 1, arbitrary: anyChar },
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));
const authority = fc.constantFrom(
  'app.example.com',
  'APP.Example.com',
  'app.example.com:8443',
  'a.b.example.com',
  'example.com',
  'evil.example',
  'app.example.com.',
  'evil.example:443',
  '[::1]:8080',
  'xn--e1afmkfd.example.com',
);
const scheme = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('https', 'http', 'HTTPS') },
  { weight: 1, arbitrary: fc.constantFrom('javascript', 'ftp', '') },
);
const allowedHosts = fc.constantFrom<string[]>(
  [],
  ['app.example.com'],
  ['*.example.com'],
  ['app.example.com:8443', 'example.com'],
);

describe('return_to', () => {
  const checks = new Map<string, ReturnType<typeof inProcessCheck>>();
  const checkFor = (patterns: string[]) => {
    const key = JSON.stringify(patterns);
    const check =
      checks.get(key) ??
      inProcessCheck({ config: { policy: { rules: RULES }, return_to: { allowed_hosts: patterns } } });
    checks.set(key, check);
    return check;
  };

  test('a login URL only ever returns to an allowed host over http(s), without control characters', async (t) => {
    let checked = 0;
    await holds(
      t,
      fc.asyncProperty(
        allowedHosts,
        authority,
        scheme,
        fc.oneof({ weight: 4, arbitrary: pathText.map((text) => `/${text}`) }, { weight: 1, arbitrary: pathText }),
        navigation,
        async (patterns, host, scheme, path, accept) => {
          const check = checkFor(patterns);
          const request = checkRequestOf(accept, 'raw', { path, authority: host });
          const http = request.attributes?.request?.http;
          if (http) http.scheme = scheme;
          const response = await check(request);
          for (const login of loginUrls(response)) {
            assert.doesNotMatch(login, /[^\x21-\x7e]/, 'a login URL is visible ASCII: it is sent as a header');
            const url = new URL(login);
            assert.equal(`${url.origin}${url.pathname}`, `${BROWSER_URL}/self-service/login/browser`);
            const returnTo = url.searchParams.get('return_to');
            if (returnTo === null) continue;
            assert.doesNotMatch(
              returnTo,
              /[\x00-\x1f\x7f]/,
              `return_to ${JSON.stringify(returnTo)} holds a control character`,
            );
            const target = new URL(returnTo);
            assert.ok(target.protocol === 'https:' || target.protocol === 'http:', returnTo);
            assert.ok(
              hostAllowed(patterns, target),
              `return_to ${returnTo} leads to ${target.host}, outside ${JSON.stringify(patterns)}`,
            );
            assert.equal(
              dnsName(target.hostname),
              dnsName(new URL(`http://${host}`).hostname),
              `return_to ${returnTo} leads to another host than ${host}`,
            );
            checked++;
          }
        },
      ),
      2000,
    );
    // A property over answers that never hold a return_to would prove nothing.
    assert.ok(checked > 100, `only ${checked} return_to URLs were checked`);
    t.diagnostic(`${checked} return_to URLs checked`);
  });
});
