import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load';
import { hostMatches } from '../../../src/policy/hosts';
import { compilePolicy, selectRule, type Policy, type RuleOutcome, type Selection } from '../../../src/policy/policy';
import { requestView, type ViewOptions } from '../support/request';

function policyOf(policy: unknown): Policy {
  return compilePolicy(parseConfig({ policy }, {}).policy);
}

function selectedName(selection: Selection): string {
  if (selection.kind === 'ambiguous_path') return AMBIGUOUS;
  if (selection.kind === 'ambiguous_method') return AMBIGUOUS_METHOD;
  assert.equal(selection.kind, 'rule');
  return selection.kind === 'rule' ? selection.rule.name : '';
}

/** The two readings of the path select different rules: the request is refused. */
const AMBIGUOUS = '(ambiguous path)';
/** A method override names a method under another rule than the method sent: refused too. */
const AMBIGUOUS_METHOD = '(ambiguous method)';

function select(policy: Policy, options: ViewOptions): string {
  return selectedName(selectRule(policy, requestView(options)));
}

describe('hostMatches', () => {
  const cases: ReadonlyArray<{ pattern: string; authority: string; host?: string; expected: boolean }> = [
    { pattern: 'app.example.com', authority: 'app.example.com', expected: true },
    { pattern: 'app.example.com', authority: 'app.example.com:8443', host: 'app.example.com', expected: true },
    { pattern: 'app.example.com', authority: 'other.example.com', expected: false },
    { pattern: 'app.example.com', authority: 'xapp.example.com', expected: false },
    { pattern: 'app.example.com', authority: 'app.example.com.evil', expected: false },
    { pattern: '*.example.com', authority: 'app.example.com', expected: true },
    { pattern: '*.example.com', authority: 'a.b.example.com', expected: true },
    { pattern: '*.example.com', authority: 'example.com', expected: false },
    { pattern: '*.example.com', authority: '.example.com', expected: false },
    { pattern: '*.example.com', authority: 'evilexample.com', expected: false },
    { pattern: '*.example.com', authority: 'example.com.evil.net', expected: false },
    { pattern: 'app.example.com:8443', authority: 'app.example.com:8443', host: 'app.example.com', expected: true },
    { pattern: 'app.example.com:8443', authority: 'APP.example.com:8443', host: 'app.example.com', expected: true },
    { pattern: 'app.example.com:8443', authority: 'app.example.com:9443', host: 'app.example.com', expected: false },
    // Found by test/fuzz/hosts.test.ts: WHATWG URL reads both as app.example.com port 8443.
    { pattern: 'app.example.com:8443', authority: 'app.example.com:08443', host: 'app.example.com', expected: true },
    { pattern: 'app.example.com:8443', authority: 'app.example.com.:8443', host: 'app.example.com', expected: true },
    { pattern: 'app.example.com:8443', authority: 'app.example.com', expected: false },
    { pattern: '*.example.com:8443', authority: 'a.example.com:8443', host: 'a.example.com', expected: true },
    { pattern: '*.example.com:8443', authority: 'example.com:8443', host: 'example.com', expected: false },
  ];
  for (const { pattern, authority, host, expected } of cases) {
    test(`${pattern} vs ${authority} → ${expected}`, () => {
      assert.equal(hostMatches(pattern, host ?? authority.toLowerCase(), authority), expected);
    });
  }
});

describe('compilePolicy / selectRule', () => {
  test('no rules: the fallback "default" with the configured defaults', () => {
    const policy = policyOf({ cookie: 'aal2', token: 'aal1' });
    const selection = selectRule(policy, requestView());
    assert.equal(selectedName(selection), 'default');
    assert.deepEqual(selection.kind === 'rule' && selection.rule.outcome, {
      kind: 'require',
      cookie: 'aal2',
      token: 'aal1',
    });
    assert.equal(policy.fallback.name, 'default');
    assert.equal(policy.rules.length, 0);
  });

  test('built-in defaults: cookie highest_available, token aal1, CORS preflights not let through, paths compared case-insensitively too', () => {
    const policy = policyOf(undefined);
    assert.deepEqual(policy.fallback.outcome, { kind: 'require', cookie: 'highest_available', token: 'aal1' });
    assert.equal(policy.corsPreflight, false);
    assert.equal(policyOf({ cors_preflight: true }).corsPreflight, true);
    assert.equal(policy.caseSensitivePaths, false);
  });

  test('first matching rule wins', () => {
    const policy = policyOf({
      rules: [{ name: 'first', paths: ['/a/*'] }, { name: 'second', paths: ['/a/b'] }, { name: 'third' }],
    });
    assert.equal(select(policy, { path: '/a/b' }), 'first');
    assert.equal(select(policy, { path: '/x' }), 'third');
  });

  test('a rule without conditions matches everything, so the fallback is never reached', () => {
    const policy = policyOf({ rules: [{ name: 'all', anonymous: true }] });
    assert.equal(select(policy, { path: '/anything', method: 'DELETE', authority: 'x.y' }), 'all');
  });

  describe('hosts', () => {
    const policy = policyOf({
      rules: [
        { name: 'exact', hosts: ['Admin.Example.com'] },
        { name: 'wildcard', hosts: ['*.example.com'] },
      ],
    });
    const cases: ReadonlyArray<{ authority: string; expected: string }> = [
      { authority: 'admin.example.com', expected: 'exact' },
      { authority: 'ADMIN.EXAMPLE.COM', expected: 'exact' },
      { authority: 'admin.example.com:443', expected: 'exact' },
      // The port is the client's to write: every spelling selects the host name's rule.
      { authority: 'admin.example.com:38443', expected: 'exact' },
      { authority: 'admin.example.com:1', expected: 'exact' },
      { authority: 'api.example.com:8443', expected: 'wildcard' },
      { authority: 'api.example.com:443', expected: 'wildcard' },
      { authority: 'api.example.com', expected: 'wildcard' },
      { authority: 'deep.sub.example.com', expected: 'wildcard' },
      { authority: 'example.com', expected: 'default' },
      { authority: 'example.org', expected: 'default' },
      { authority: 'notexample.com', expected: 'default' },
    ];
    for (const { authority, expected } of cases) {
      test(`${authority} → ${expected}`, () => {
        assert.equal(select(policy, { authority }), expected);
      });
    }
  });

  describe('paths: every reading must select the same rule', () => {
    const policy = policyOf({
      rules: [
        { name: 'public', paths: ['/public/*', '/health'], anonymous: true },
        { name: 'root', paths: ['/'], anonymous: true },
        { name: 'admin', paths: ['/admin/*', '/admin'], cookie: 'aal2' },
      ],
    });
    const cases: ReadonlyArray<{ path: string; expected: string }> = [
      { path: '/public/app.js', expected: 'public' },
      { path: '/public/', expected: 'public' },
      { path: '/public/a/b/c?x=1', expected: 'public' },
      { path: '/health', expected: 'public' },
      { path: '/health?probe=1', expected: 'public' },
      { path: '/health/', expected: 'public' },
      { path: '/healthz', expected: 'default' },
      { path: '/public', expected: 'public' },
      { path: '/publicity', expected: 'default' },
      { path: '/', expected: 'root' },
      { path: '/?q=1', expected: 'root' },
      { path: '', expected: 'default' },
      { path: '/public/../admin', expected: AMBIGUOUS },
      { path: '/public/%2e%2e/admin', expected: AMBIGUOUS },
      { path: '/public/%2E%2e/admin/users', expected: AMBIGUOUS },
      { path: '/public\\..\\admin', expected: AMBIGUOUS },
      { path: '/public%2f..%2fadmin', expected: AMBIGUOUS },
      { path: '//public//x', expected: AMBIGUOUS },
      { path: '/public/%252e%252e/admin', expected: 'public' },
      { path: '/public/..;/admin', expected: AMBIGUOUS },
      { path: '/admin/..;/public/x', expected: AMBIGUOUS },
      { path: '/admin/x%2F..%2F..%2Fpublic/y', expected: AMBIGUOUS },
      { path: '/admin;jsessionid=1/x', expected: AMBIGUOUS },
      { path: '/public;v=1/x', expected: AMBIGUOUS },
      { path: '/public/a%20b', expected: 'public' },
      { path: '/public/%2e%2e%2e', expected: 'public' },
      { path: '/public/./x', expected: 'public' },
      { path: '/x/../public/y', expected: AMBIGUOUS },
      { path: '/admin', expected: 'admin' },
      { path: '/admin/', expected: 'admin' },
      { path: '/Admin', expected: AMBIGUOUS },
      { path: '/PUBLIC/x', expected: AMBIGUOUS },
    ];
    for (const { path, expected } of cases) {
      test(`${JSON.stringify(path)} → ${expected}`, () => {
        assert.equal(select(policy, { path }), expected);
      });
    }
  });

  // Found by test/fuzz/paths.test.ts, with a catch-all anonymous rule behind the protected ones.
  describe('readings the path fuzzer found missing', () => {
    const policy = policyOf({
      rules: [
        { name: 'admin', paths: ['/admin/*'], cookie: 'aal2' },
        { name: 'open', paths: ['/*'], anonymous: true },
      ],
    });
    const cases: ReadonlyArray<{ path: string; why: string }> = [
      {
        path: '/\\é/admin',
        why: "new URL(req.url, base), as Node's docs teach, reads /\\é as a host and routes /admin",
      },
      { path: '//x/admin/y', why: 'the same: //x is a host to new URL(req.url, base)' },
      {
        path: '/%/admin\\admin/../%2e%2e/admin',
        why: "Go's path.Clean of the decoded path keeps \\ in a segment and reads /admin",
      },
    ];
    for (const { path, why } of cases) {
      test(`${JSON.stringify(path)} is ambiguous: ${why}`, () => {
        assert.equal(select(policy, { path }), AMBIGUOUS);
      });
    }
  });

  describe('the confirmed bypasses of the security review', () => {
    const rules = [
      { name: 'admin', paths: ['/admin/*'], cookie: 'aal2', token: 'aal2' },
      { name: 'internal', paths: ['/internal/*'], deny: true },
      { name: 'metrics', paths: ['/metrics'], deny: true },
      { name: 'root', paths: ['/'], anonymous: true },
    ];
    const policy = policyOf({ rules });
    const cases: ReadonlyArray<{ path: string; expected: string; why: string }> = [
      { path: '/ADMIN/x', expected: AMBIGUOUS, why: 'Express, ASP.NET and IIS route it to /admin' },
      { path: '/INTERNAL/x', expected: AMBIGUOUS, why: 'the same, for a deny rule' },
      { path: '/metrics/', expected: 'metrics', why: 'non-strict routers serve /metrics/ with the /metrics handler' },
      { path: '/metrics/.', expected: AMBIGUOUS, why: 'as sent it is no rule; resolved it is /metrics/' },
      {
        path: '/internal',
        expected: 'internal',
        why: "a prefix rule covers its root, like Envoy's path_separated_prefix",
      },
      {
        path: '/internal/x/../../',
        expected: AMBIGUOUS,
        why: 'Node and Express route the string as sent, under /internal/',
      },
      {
        path: '/admin/users////../../..',
        expected: AMBIGUOUS,
        why: 'WHATWG URL reads /admin/users/, a merging normaliser reads /',
      },
    ];
    for (const { path, expected, why } of cases) {
      test(`${JSON.stringify(path)} → ${expected}: ${why}`, () => {
        assert.equal(select(policy, { path }), expected);
      });
    }

    test('policy.case_sensitive_paths: true compares paths only as written', () => {
      const caseSensitive = policyOf({ case_sensitive_paths: true, rules });
      assert.equal(select(caseSensitive, { path: '/ADMIN/x' }), 'default');
      assert.equal(select(caseSensitive, { path: '/admin/x' }), 'admin');
    });

    test('patterns written in upper case match a lower-case request only where paths are case-insensitive', () => {
      const upper = policyOf({ rules: [{ name: 'api', paths: ['/API/*'], deny: true }] });
      assert.equal(select(upper, { path: '/API/x' }), 'api');
      assert.equal(select(upper, { path: '/api/x' }), AMBIGUOUS);
      assert.equal(
        select(policyOf({ case_sensitive_paths: true, rules: [{ name: 'api', paths: ['/API/*'], deny: true }] }), {
          path: '/api/x',
        }),
        'default',
      );
    });
  });

  describe('the matching table', () => {
    const cases: ReadonlyArray<{ pattern: string; matches: string[]; misses: string[] }> = [
      { pattern: '/x', matches: ['/x', '/x/'], misses: ['/x/y', '/xy', '/'] },
      { pattern: '/x/', matches: ['/x/', '/x'], misses: ['/x/y'] },
      { pattern: '/x/*', matches: ['/x', '/x/', '/x/y', '/x/y/z'], misses: ['/xy', '/'] },
      { pattern: '/x*', matches: ['/x', '/xy', '/x/y'], misses: ['/', '/y'] },
      { pattern: '/', matches: ['/'], misses: ['/x'] },
      { pattern: '/*', matches: ['/', '/x', '/x/y'], misses: [] },
    ];
    for (const { pattern, matches, misses } of cases) {
      test(`${pattern} matches ${matches.join(' ')} and not ${misses.join(' ') || 'anything else'}`, () => {
        const policy = policyOf({ case_sensitive_paths: true, rules: [{ name: 'r', paths: [pattern] }] });
        for (const path of matches) assert.equal(select(policy, { path }), 'r', path);
        for (const path of misses) assert.equal(select(policy, { path }), 'default', path);
      });
    }
  });

  test('methods: a rule listing GET covers HEAD (served by the GET handler), unless exact_methods', () => {
    const policy = policyOf({ rules: [{ name: 'deny-get', methods: ['GET'], deny: true }] });
    assert.equal(select(policy, { method: 'HEAD' }), 'deny-get');
    assert.equal(
      select(policyOf({ rules: [{ name: 'deny-get', methods: ['GET'], exact_methods: true, deny: true }] }), {
        method: 'HEAD',
      }),
      'default',
    );
    assert.equal(
      select(policyOf({ rules: [{ name: 'deny-head', methods: ['HEAD'], deny: true }] }), { method: 'GET' }),
      'default',
      'HEAD does not imply GET',
    );
  });

  // A request method that is not upper-case never gets here: buildRequestView refuses it.
  test('methods: case-insensitive in config', () => {
    const policy = policyOf({ rules: [{ name: 'reads', methods: ['get', 'HEAD'], anonymous: true }] });
    assert.equal(select(policy, { method: 'GET' }), 'reads');
    assert.equal(select(policy, { method: 'HEAD' }), 'reads');
    assert.equal(select(policy, { method: 'POST' }), 'default');
    assert.equal(select(policy, { method: 'OPTIONS' }), 'default');
  });

  test('hosts, paths and methods must all match', () => {
    const policy = policyOf({
      rules: [{ name: 'r', hosts: ['app.example.com'], paths: ['/api/*'], methods: ['POST'] }],
    });
    assert.equal(select(policy, { authority: 'app.example.com', path: '/api/x', method: 'POST' }), 'r');
    assert.equal(select(policy, { authority: 'other.example.com', path: '/api/x', method: 'POST' }), 'default');
    assert.equal(select(policy, { authority: 'app.example.com', path: '/web/x', method: 'POST' }), 'default');
    assert.equal(select(policy, { authority: 'app.example.com', path: '/api/x', method: 'GET' }), 'default');
  });

  test('unnamed rules are called rules[i] after their index', () => {
    const policy = policyOf({
      rules: [{ name: 'named', paths: ['/a'] }, { paths: ['/b'] }, { paths: ['/c'], deny: true }],
    });
    assert.deepEqual(
      policy.rules.map((rule) => rule.name),
      ['named', 'rules[1]', 'rules[2]'],
    );
    assert.equal(select(policy, { path: '/b' }), 'rules[1]');
    assert.equal(select(policy, { path: '/c' }), 'rules[2]');
  });

  test('outcomes: require inherits the policy defaults per credential, anonymous, deny', () => {
    const policy = policyOf({
      cookie: 'aal2',
      token: 'highest_available',
      rules: [
        { name: 'inherit-both' },
        { name: 'cookie-only', cookie: 'aal1' },
        { name: 'token-only', token: 'aal2' },
        { name: 'both', cookie: 'highest_available', token: 'aal1' },
        { name: 'open', anonymous: true },
        { name: 'closed', deny: true },
        { name: 'anonymous-false', anonymous: false, deny: false },
      ],
    });
    const outcomes = Object.fromEntries(policy.rules.map((rule) => [rule.name, rule.outcome]));
    const expected: Record<string, RuleOutcome> = {
      'inherit-both': { kind: 'require', cookie: 'aal2', token: 'highest_available' },
      'cookie-only': { kind: 'require', cookie: 'aal1', token: 'highest_available' },
      'token-only': { kind: 'require', cookie: 'aal2', token: 'aal2' },
      both: { kind: 'require', cookie: 'highest_available', token: 'aal1' },
      open: { kind: 'anonymous' },
      closed: { kind: 'deny' },
      'anonymous-false': { kind: 'require', cookie: 'aal2', token: 'highest_available' },
    };
    assert.deepEqual(outcomes, expected);
  });

  describe('context_extensions "policy" selects a rule by name', () => {
    const policy = policyOf({
      rules: [
        { name: 'public', paths: ['/public/*'], anonymous: true },
        { name: 'admin', hosts: ['admin.example.com'], cookie: 'aal2' },
        { paths: ['/unnamed'] },
      ],
    });

    test('the named rule wins over a matching one, even if its own conditions do not match', () => {
      assert.equal(select(policy, { path: '/public/x', contextExtensions: { policy: 'admin' } }), 'admin');
    });

    test('naming a rule whose conditions match also works', () => {
      assert.equal(select(policy, { path: '/public/x', contextExtensions: { policy: 'public' } }), 'public');
    });

    test('other context_extensions keys are ignored', () => {
      assert.equal(select(policy, { path: '/public/x', contextExtensions: { other: 'admin' } }), 'public');
    });

    test('unknown name → unknown_policy with that name', () => {
      assert.deepEqual(selectRule(policy, requestView({ contextExtensions: { policy: 'nope' } })), {
        kind: 'unknown_policy',
        name: 'nope',
      });
    });

    test('unnamed rules cannot be selected by their rules[i] label', () => {
      assert.deepEqual(selectRule(policy, requestView({ contextExtensions: { policy: 'rules[2]' } })), {
        kind: 'unknown_policy',
        name: 'rules[2]',
      });
      assert.equal(policy.byName.has('rules[2]'), false);
    });

    test('empty name is an unknown policy, not "no policy"', () => {
      assert.deepEqual(selectRule(policy, requestView({ contextExtensions: { policy: '' } })), {
        kind: 'unknown_policy',
        name: '',
      });
    });

    test('names are case-sensitive', () => {
      assert.equal(selectRule(policy, requestView({ contextExtensions: { policy: 'Admin' } })).kind, 'unknown_policy');
    });

    test('byName holds exactly the named rules and the fallback', () => {
      assert.deepEqual([...policy.byName.keys()].sort(), ['admin', 'default', 'public']);
    });

    test('"default" selects the fallback made of policy.cookie / policy.token', () => {
      assert.equal(select(policy, { path: '/public/x', contextExtensions: { policy: 'default' } }), 'default');
    });
  });
});

describe('method overrides are further readings of the method', () => {
  const policy = policyOf({
    rules: [
      { name: 'kept', paths: ['/records/*'], methods: ['DELETE'], deny: true },
      { name: 'reads', methods: ['GET'], anonymous: true },
    ],
  });

  test('an override naming a method under another rule is refused, whatever its case or place', () => {
    for (const headers of [
      [['x-http-method-override', 'DELETE']],
      [['x-method-override', 'delete ']],
      [['x-http-method', 'PUT, DELETE']],
      [
        ['x-http-method-override', 'PUT'],
        ['x-http-method-override', 'DELETE'],
      ],
    ] as const) {
      assert.equal(
        select(policy, { method: 'POST', path: '/records/1', headers }),
        AMBIGUOUS_METHOD,
        JSON.stringify(headers),
      );
    }
    assert.equal(select(policy, { method: 'POST', path: '/records/1?_method=DELETE' }), AMBIGUOUS_METHOD);
    assert.equal(select(policy, { method: 'POST', path: '/records/1?%5Fmethod=delete#x' }), AMBIGUOUS_METHOD);
  });

  test('a GET overridden to a write leaves the anonymous GET rule (implicit HEAD included)', () => {
    assert.equal(
      select(policy, { method: 'GET', path: '/x', headers: [['x-http-method-override', 'POST']] }),
      AMBIGUOUS_METHOD,
    );
    assert.equal(select(policy, { method: 'GET', path: '/x', headers: [['x-http-method-override', 'head']] }), 'reads');
  });

  test('an override under the same rule, an empty one, or a lookalike parameter changes nothing', () => {
    assert.equal(
      select(policy, { method: 'POST', path: '/records/1', headers: [['x-http-method-override', 'PATCH']] }),
      'default',
    );
    assert.equal(
      select(policy, { method: 'POST', path: '/records/1', headers: [['x-http-method-override', ' , ']] }),
      'default',
    );
    assert.equal(select(policy, { method: 'POST', path: '/records/1?x_method=DELETE&method=DELETE' }), 'default');
  });

  test("a path ambiguity is reported as the path's even with an override", () => {
    const paths = policyOf({ rules: [{ name: 'public', paths: ['/public/*'], anonymous: true }] });
    assert.equal(
      select(paths, { method: 'POST', path: '/public/../x', headers: [['x-http-method-override', 'DELETE']] }),
      AMBIGUOUS,
    );
  });
});
