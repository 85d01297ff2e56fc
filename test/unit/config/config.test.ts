import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { parseDuration } from '../../../src/config/duration';
import { ConfigError, loadConfig, loadReloadedConfig, parseConfig } from '../../../src/config/load';
import type { Config } from '../../../src/config/schema';

// dist/test/unit → repository root
const EXAMPLE = path.join(__dirname, '..', '..', '..', '..', 'examples', 'config.yaml');

/** The problems of the ConfigError `run` throws; fails if it does not throw one. */
function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.ok(error.message.startsWith('invalid configuration:'), error.message);
    for (const problem of error.problems) assert.ok(error.message.includes(problem));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

function parseProblems(document: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  return problemsOf(() => parseConfig(document, env));
}

/** Every leaf key path of a plain object, arrays counted as leaves. */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, item]) => leafPaths(item, prefix ? `${prefix}.${key}` : key));
}

const DEFAULTS: Config = {
  server: {
    grpc_address: '0.0.0.0:9191',
    http_address: '0.0.0.0:9192',
    http_authz_address: '0.0.0.0:9193',
    shutdown_timeout: 10_000,
    drain_delay: 0,
    workers: 1,
  },
  kratos: {
    public_url: 'http://127.0.0.1:4433',
    admin_url: 'http://127.0.0.1:4434',
    browser_url: '',
    admin_token: '',
    session_cookie: 'ory_kratos_session',
    timeout: 150,
    code_mfa_enabled: false,
    version: '',
    whoami_enforces_highest_available: false,
  },
  policy: {
    cookie: 'highest_available',
    token: 'aal1',
    cors_preflight: false,
    case_sensitive_paths: false,
    strip_credentials: true,
    rules: [],
  },
  http_authz: {
    trusted_proxies: ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
    request_timeout: 10_000,
  },
  return_to: { allowed_hosts: [] },
  cache: { ttl: 10_000, negative_ttl: 1_000, identity_ttl: 60_000, max_entries: 100_000, stale_if_error: 0 },
  identity_headers: {},
  log: { level: 'info', pretty: false },
  tracing: { enabled: false, endpoint: '', service_name: '' },
};

describe('parseDuration', () => {
  const cases: ReadonlyArray<{ text: string; expected: number | undefined }> = [
    { text: '0', expected: 0 },
    { text: '0s', expected: 0 },
    { text: '150ms', expected: 150 },
    { text: '2s', expected: 2000 },
    { text: '1.5m', expected: 90_000 },
    { text: '1h', expected: 3_600_000 },
    { text: '0.5s', expected: 500 },
    { text: ' 2s ', expected: 2000 },
    { text: '150', expected: undefined },
    { text: '1d', expected: undefined },
    { text: '-1s', expected: undefined },
    { text: '1 s', expected: undefined },
    { text: '1S', expected: undefined },
    { text: '1s500ms', expected: undefined },
    { text: '.5s', expected: undefined },
    { text: 'ms', expected: undefined },
    { text: '', expected: undefined },
    { text: 'Infinitys', expected: undefined },
    // Exact: scaled before the decimal point is placed (1.005 * 1000 is 1004.9999999999999).
    { text: '1.005s', expected: 1005 },
    { text: '0.7m', expected: 42_000 },
    { text: '1.5ms', expected: 1.5 },
  ];
  for (const { text, expected } of cases) {
    test(`${JSON.stringify(text)} → ${String(expected)}`, () => {
      assert.equal(parseDuration(text), expected);
    });
  }
});

describe('parseConfig defaults', () => {
  test('no document at all gives every default', () => {
    assert.deepEqual(parseConfig(undefined, {}), DEFAULTS);
  });

  test('null (an empty YAML file) and {} give the same defaults', () => {
    assert.deepEqual(parseConfig(null, {}), DEFAULTS);
    assert.deepEqual(parseConfig({}, {}), DEFAULTS);
  });

  test('empty sections are filled with their defaults', () => {
    assert.deepEqual(
      parseConfig({ server: {}, kratos: {}, policy: {}, return_to: {}, cache: {}, log: {} }, {}),
      DEFAULTS,
    );
  });

  test('loadConfig without a path gives the defaults', () => {
    assert.deepEqual(loadConfig(undefined, {}), DEFAULTS);
  });

  test('a partial section keeps the other defaults of that section', () => {
    const config = parseConfig({ kratos: { timeout: '2s' } }, {});
    assert.equal(config.kratos.timeout, 2000);
    assert.deepEqual({ ...config.kratos, timeout: 150 }, DEFAULTS.kratos);
  });
});

describe('examples/config.yaml', () => {
  const document = parse(readFileSync(EXAMPLE, 'utf8')) as { policy: { rules?: unknown } };

  test('every value it lists (apart from the example rules) is the parsed default', () => {
    const { rules, ...policy } = document.policy;
    assert.ok(Array.isArray(rules) && rules.length > 0, 'the example still has example rules');
    assert.deepEqual(parseConfig({ ...document, policy }, {}), DEFAULTS);
  });

  test('it lists every configuration key, and no other', () => {
    const { rules: _, ...policy } = document.policy;
    assert.deepEqual(
      leafPaths({ ...document, policy }).sort(),
      leafPaths(DEFAULTS)
        .filter((key) => key !== 'policy.rules')
        .sort(),
    );
  });

  test('loads as a whole, example rules included', () => {
    const config = loadConfig(EXAMPLE, {});
    assert.deepEqual(
      config.policy.rules.map((rule) => rule.name),
      ['public', 'admin', 'internal', 'payout'],
    );
    assert.deepEqual(config.policy.rules.at(-1)?.cookie, { aal: 'highest_available', max_age: 300_000 });
    assert.deepEqual({ ...config, policy: { ...config.policy, rules: [] } }, DEFAULTS);
  });
});

describe('parseConfig errors name the key', () => {
  test('unknown keys anywhere', () => {
    assert.deepEqual(parseProblems({ kratos: { timeoutx: '1s' } }), ['kratos.timeoutx: unknown key']);
    assert.deepEqual(parseProblems({ kratos_url: 'x' }), ['kratos_url: unknown key']);
    assert.deepEqual(parseProblems({ policy: { rules: [{}, { paths: ['/a'], pathz: ['/b'] }] } }), [
      'policy.rules[1].pathz: unknown key',
    ]);
    assert.deepEqual(parseProblems({ cache: { ttl: '1s', size: 1 }, log: { format: 'json' } }).sort(), [
      'cache.size: unknown key',
      'log.format: unknown key',
    ]);
  });

  test('several unknown keys in one object are each reported', () => {
    assert.deepEqual(parseProblems({ server: { a: 1, b: 2 } }).sort(), [
      'server.a: unknown key',
      'server.b: unknown key',
    ]);
  });

  test('rule paths: problems name policy.rules[i].paths[j]', () => {
    const problems = parseProblems({
      policy: { rules: [{ paths: ['/ok'] }, { paths: ['/ok'] }, { paths: ['/fine', 'relative'] }] },
    });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^policy\.rules\[2\]\.paths\[1\]: must start with "\/"$/);
  });

  const invalid: ReadonlyArray<{ name: string; document: unknown; key: string }> = [
    {
      name: 'path with "*" in the middle',
      document: { policy: { rules: [{ paths: ['/a/*/b'] }] } },
      key: 'policy.rules[0].paths[0]',
    },
    {
      name: 'path with ".."',
      document: { policy: { rules: [{ paths: ['/a/../b'] }] } },
      key: 'policy.rules[0].paths[0]',
    },
    {
      name: 'path ending in "/.."',
      document: { policy: { rules: [{ paths: ['/a/..'] }] } },
      key: 'policy.rules[0].paths[0]',
    },
    {
      name: 'path with "."',
      document: { policy: { rules: [{ paths: ['/a/./b'] }] } },
      key: 'policy.rules[0].paths[0]',
    },
    {
      name: 'path with a query',
      document: { policy: { rules: [{ paths: ['/a?b'] }] } },
      key: 'policy.rules[0].paths[0]',
    },
    { name: 'empty paths list', document: { policy: { rules: [{ paths: [] }] } }, key: 'policy.rules[0].paths' },
    {
      name: 'host with a path',
      document: { policy: { rules: [{ hosts: ['example.com/x'] }] } },
      key: 'policy.rules[0].hosts[0]',
    },
    {
      name: 'wildcard in the middle of a host',
      document: { policy: { rules: [{ hosts: ['a.*.com'] }] } },
      key: 'policy.rules[0].hosts[0]',
    },
    { name: 'bare "*" host', document: { policy: { rules: [{ hosts: ['*'] }] } }, key: 'policy.rules[0].hosts[0]' },
    {
      name: 'bad method',
      document: { policy: { rules: [{ methods: ['GET POST'] }] } },
      key: 'policy.rules[0].methods[0]',
    },
    { name: 'bad rule name', document: { policy: { rules: [{ name: 'has space' }] } }, key: 'policy.rules[0].name' },
    { name: 'unknown requirement', document: { policy: { cookie: 'aal3' } }, key: 'policy.cookie' },
    {
      name: 'unknown requirement in a rule',
      document: { policy: { rules: [{ token: 'aal0' }] } },
      key: 'policy.rules[0].token',
    },
    {
      name: 'anonymous and deny',
      document: { policy: { rules: [{ anonymous: true, deny: true }] } },
      key: 'policy.rules[0]',
    },
    {
      name: 'anonymous with a requirement',
      document: { policy: { rules: [{ anonymous: true, cookie: 'aal2' }] } },
      key: 'policy.rules[0]',
    },
    {
      name: 'deny with a requirement',
      document: { policy: { rules: [{ deny: true, token: 'aal1' }] } },
      key: 'policy.rules[0]',
    },
    { name: 'timeout as a YAML number', document: { kratos: { timeout: 150 } }, key: 'kratos.timeout' },
    { name: 'boolean as a string', document: { kratos: { code_mfa_enabled: 'yes' } }, key: 'kratos.code_mfa_enabled' },
    { name: 'max_entries as a string', document: { cache: { max_entries: '5' } }, key: 'cache.max_entries' },
    { name: 'negative max_entries', document: { cache: { max_entries: -1 } }, key: 'cache.max_entries' },
    { name: 'fractional max_entries', document: { cache: { max_entries: 1.5 } }, key: 'cache.max_entries' },
    { name: 'rules not a list', document: { policy: { rules: { name: 'x' } } }, key: 'policy.rules' },
    { name: 'section not an object', document: { kratos: 'http://k' }, key: 'kratos' },
    { name: 'log level', document: { log: { level: 'verbose' } }, key: 'log.level' },
    { name: 'address without port', document: { server: { grpc_address: '0.0.0.0' } }, key: 'server.grpc_address' },
    { name: 'public_url not http(s)', document: { kratos: { public_url: 'ftp://kratos' } }, key: 'kratos.public_url' },
    { name: 'public_url relative', document: { kratos: { public_url: 'kratos:4433' } }, key: 'kratos.public_url' },
    {
      name: 'public_url with a query',
      document: { kratos: { public_url: 'http://kratos/?x=1' } },
      key: 'kratos.public_url',
    },
    { name: 'public_url empty', document: { kratos: { public_url: '' } }, key: 'kratos.public_url' },
    {
      name: 'browser_url with a fragment',
      document: { kratos: { browser_url: 'https://login.example.com/#x' } },
      key: 'kratos.browser_url',
    },
    { name: 'invalid cookie name', document: { kratos: { session_cookie: 'a;b' } }, key: 'kratos.session_cookie' },
    {
      name: 'http_authz_address without port',
      document: { server: { http_authz_address: '0.0.0.0' } },
      key: 'server.http_authz_address',
    },
    {
      name: 'trusted_proxies: a host name',
      document: { http_authz: { trusted_proxies: ['proxy.internal'] } },
      key: 'http_authz.trusted_proxies[0]',
    },
    {
      name: 'trusted_proxies: prefix too long',
      document: { http_authz: { trusted_proxies: ['10.0.0.0/33'] } },
      key: 'http_authz.trusted_proxies[0]',
    },
    {
      name: 'trusted_proxies: IPv6 prefix too long',
      document: { http_authz: { trusted_proxies: ['fc00::/129'] } },
      key: 'http_authz.trusted_proxies[0]',
    },
    {
      name: 'trusted_proxies: two slashes',
      document: { http_authz: { trusted_proxies: ['10.0.0.0/8/8'] } },
      key: 'http_authz.trusted_proxies[0]',
    },
    {
      name: 'request_timeout too short',
      document: { http_authz: { request_timeout: '10ms' } },
      key: 'http_authz.request_timeout',
    },
    {
      name: 'allowed_hosts entry',
      document: { return_to: { allowed_hosts: ['https://app.example.com'] } },
      key: 'return_to.allowed_hosts[0]',
    },
  ];
  for (const { name, document, key } of invalid) {
    test(`${name} → ${key}`, () => {
      const problems = parseProblems(document);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]?.startsWith(`${key}: `), problems[0]);
    });
  }

  test('a document that is not an object is a root problem', () => {
    assert.deepEqual(
      parseProblems('just a string').map((problem) => problem.split(':')[0]),
      ['(root)'],
    );
    assert.deepEqual(
      parseProblems([1, 2]).map((problem) => problem.split(':')[0]),
      ['(root)'],
    );
  });

  const durations: ReadonlyArray<{ key: 'server' | 'kratos' | 'cache'; field: string; value: string }> = [
    { key: 'kratos', field: 'timeout', value: '150' },
    { key: 'kratos', field: 'timeout', value: '1d' },
    { key: 'server', field: 'shutdown_timeout', value: '-1s' },
    { key: 'cache', field: 'ttl', value: 'ten seconds' },
    { key: 'cache', field: 'stale_if_error', value: '' },
  ];
  for (const { key, field, value } of durations) {
    test(`bad duration ${key}.${field}: ${JSON.stringify(value)}`, () => {
      assert.deepEqual(parseProblems({ [key]: { [field]: value } }), [
        `${key}.${field}: "${value}" is not a duration (use e.g. 150ms, 2s, 1m)`,
      ]);
    });
  }

  test('kratos.timeout must be at least 10ms (below, every check was a 503); other durations may be 0', () => {
    for (const timeout of ['0s', '0', '1ms', '9ms']) {
      assert.deepEqual(parseProblems({ kratos: { timeout } }), [
        'kratos.timeout: must be at least 10ms: no Kratos answers sooner, and every check would be a 503',
      ]);
    }
    assert.equal(parseConfig({ kratos: { timeout: '10ms' } }, {}).kratos.timeout, 10);
    assert.equal(parseConfig({ cache: { ttl: '0s', negative_ttl: '0' } }, {}).cache.ttl, 0);
  });

  // Each of these passed check-config and stopped start-up: lru-cache and Node's HTTP server take whole milliseconds.
  const fractional: ReadonlyArray<readonly [section: string, key: string, value: string]> = [
    ['cache', 'ttl', '1.5ms'],
    ['cache', 'negative_ttl', '0.5ms'],
    ['cache', 'identity_ttl', '2.25ms'],
    ['cache', 'stale_if_error', '1.0001s'],
    ['http_authz', 'request_timeout', '100.5ms'],
    ['server', 'shutdown_timeout', '0.0001s'],
    ['kratos', 'timeout', '150.5ms'],
  ];
  for (const [section, key, value] of fractional) {
    test(`a duration that is not a whole number of milliseconds is refused: ${section}.${key}: ${value}`, () => {
      assert.deepEqual(parseProblems({ [section]: { [key]: value } }), [
        `${section}.${key}: "${value}" is not a whole number of milliseconds`,
      ]);
    });
  }

  test('a fraction that makes whole milliseconds is fine: 1.5s, 1.005s, 0.25m', () => {
    const config = parseConfig({ cache: { ttl: '1.5s', negative_ttl: '1.005s', stale_if_error: '0.25m' } }, {});
    assert.deepEqual([config.cache.ttl, config.cache.negative_ttl, config.cache.stale_if_error], [1500, 1005, 15_000]);
  });

  test('no duration is longer than Node.js runs a timer (a longer one fires after 1 ms): 2147483647ms at most', () => {
    const tooLong = 'is too long: at most 2147483647ms (about 596h), the longest timer Node.js runs';
    assert.deepEqual(parseProblems({ server: { shutdown_timeout: '597h' } }), [
      `server.shutdown_timeout: "597h" ${tooLong}`,
    ]);
    assert.deepEqual(parseProblems({ kratos: { timeout: '1000h' } }), [`kratos.timeout: "1000h" ${tooLong}`]);
    assert.deepEqual(parseProblems({ policy: { cookie: { aal: 'aal1', max_age: '2147483648ms' } } }), [
      `policy.cookie.max_age: "2147483648ms" ${tooLong}`,
    ]);
    assert.deepEqual(parseProblems({ cache: { ttl: '99999999999999999999999h' } }), [
      `cache.ttl: "99999999999999999999999h" ${tooLong}`,
    ]);
    assert.equal(parseConfig({ server: { drain_delay: '2147483647ms' } }, {}).server.drain_delay, 2_147_483_647);
  });

  test('cache.max_entries is at most 10000000 (50 million took 8 GB before serving)', () => {
    assert.deepEqual(parseProblems({ cache: { max_entries: 10_000_001 } }), [
      'cache.max_entries: must be at most 10000000: the heap is sized for a full cache (about 6.4 GiB at this size)',
    ]);
    assert.equal(parseConfig({ cache: { max_entries: 10_000_000 } }, {}).cache.max_entries, 10_000_000);
  });

  test('a listen port above 65535 is refused (it passed check-config and stopped start-up)', () => {
    assert.deepEqual(parseProblems({ server: { grpc_address: '127.0.0.1:99999' } }), [
      'server.grpc_address: must be host:port (port 0 to 65535), e.g. 0.0.0.0:9191',
    ]);
    assert.equal(parseConfig({ server: { http_address: '[::1]:65535' } }, {}).server.http_address, '[::1]:65535');
  });

  describe('credentials in a Kratos URL are refused, whichever URL and however spelt', () => {
    const refused =
      'must not contain credentials (user:password@): browsers would get them in login redirects and logs would show them; Kratos calls never send them (the admin API takes kratos.admin_token)';
    const cases: ReadonlyArray<readonly [key: string, url: string]> = [
      // public_url serves as the browser URL: it went into every login Location.
      ['public_url', 'http://user:secret@kratos.example'],
      ['browser_url', 'https://user:secret@login.example'],
      ['admin_url', 'https://ops:p@ss@kratos-admin.internal'],
      ['public_url', 'http://token@kratos.example/base'],
      ['browser_url', 'https://user:secret@login.example:8443/kratos'],
    ];
    for (const [key, url] of cases) {
      test(`kratos.${key}: ${url}`, () => {
        const problems = parseProblems({ kratos: { [key]: url } });
        assert.deepEqual(problems, [`kratos.${key}: ${refused}`]);
        assert.doesNotMatch(problems.join('\n'), /secret|p@ss|token@/);
      });
    }
    test('an "@" after the host (in the path) is no credential', () => {
      assert.equal(
        parseConfig({ kratos: { browser_url: 'https://login.example/@kratos' } }, {}).kratos.browser_url,
        'https://login.example/@kratos',
      );
    });
  });

  test('durations are converted to milliseconds', () => {
    const config = parseConfig(
      { server: { shutdown_timeout: '1.5m' }, cache: { ttl: '1h', stale_if_error: '250ms' } },
      {},
    );
    assert.equal(config.server.shutdown_timeout, 90_000);
    assert.equal(config.cache.ttl, 3_600_000);
    assert.equal(config.cache.stale_if_error, 250);
  });

  test('duplicate rule names point at the later rule and name the first', () => {
    const problems = parseProblems({ policy: { rules: [{ name: 'a' }, { name: 'b' }, { name: 'a' }] } });
    assert.deepEqual(problems, ['policy.rules[2].name: duplicate rule name (also policy.rules[0])']);
  });

  test('"default" is reserved for the fallback policy', () => {
    const problems = parseProblems({ policy: { rules: [{ name: 'default', paths: ['/x'] }] } });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^policy\.rules\[0\]\.name: "default" is reserved/);
  });

  test('strip_credentials: on by default, a rule may override it, a deny rule may not mention it', () => {
    assert.equal(parseConfig({}, {}).policy.strip_credentials, true);
    const rules = parseConfig(
      { policy: { strip_credentials: false, rules: [{ paths: ['/ui/*'], anonymous: true, strip_credentials: true }] } },
      {},
    ).policy.rules;
    assert.equal(rules[0]?.strip_credentials, true);
    assert.deepEqual(parseProblems({ policy: { rules: [{ paths: ['/x'], deny: true, strip_credentials: false }] } }), [
      'policy.rules[0].strip_credentials: does not apply to a deny rule (nothing reaches the upstream)',
    ]);
  });

  test('unnamed rules are never duplicates of each other', () => {
    assert.equal(parseConfig({ policy: { rules: [{ paths: ['/a'] }, { paths: ['/b'] }] } }, {}).policy.rules.length, 2);
  });

  test('several problems are all reported at once', () => {
    const problems = parseProblems({ kratos: { timeout: 'x', nope: 1 }, log: { level: 'loud' } });
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.ok(problems.some((problem) => problem.startsWith('kratos.timeout: ')));
    assert.ok(problems.includes('kratos.nope: unknown key'));
    assert.ok(problems.some((problem) => problem.startsWith('log.level: ')));
  });
});

describe('normalisation of values', () => {
  test('trailing slashes are stripped from URLs', () => {
    const config = parseConfig(
      {
        kratos: {
          public_url: 'http://kratos:4433/',
          admin_url: 'https://kratos-admin/base//',
          browser_url: 'https://login.example.com/',
        },
      },
      {},
    );
    assert.equal(config.kratos.public_url, 'http://kratos:4433');
    assert.equal(config.kratos.admin_url, 'https://kratos-admin/base');
    assert.equal(config.kratos.browser_url, 'https://login.example.com');
  });

  test('URLs with a path keep it', () => {
    assert.equal(
      parseConfig({ kratos: { public_url: 'https://example.com/.ory' } }, {}).kratos.public_url,
      'https://example.com/.ory',
    );
  });

  test('"" blanks optional URLs', () => {
    const config = parseConfig({ kratos: { admin_url: '', browser_url: '' }, policy: { cookie: 'aal2' } }, {});
    assert.equal(config.kratos.admin_url, '');
    assert.equal(config.kratos.browser_url, '');
  });

  test('host patterns are lower-cased, methods upper-cased', () => {
    const config = parseConfig(
      {
        policy: { rules: [{ hosts: ['*.Example.COM', 'App.Example.com'], methods: ['get', 'Post'] }] },
        return_to: { allowed_hosts: ['APP.example.com', 'App.Example.com:8443'] },
      },
      {},
    );
    assert.deepEqual(config.policy.rules[0]?.hosts, ['*.example.com', 'app.example.com']);
    assert.deepEqual(config.policy.rules[0]?.methods, ['GET', 'POST']);
    // There a port only narrows which return_to is sent.
    assert.deepEqual(config.return_to.allowed_hosts, ['app.example.com', 'app.example.com:8443']);
  });

  // Issue 18, finding 3: with `admin.example.com:38443` a rule, `Host: admin.example.com` (or
  // `:1`) reached the same nginx server block under the weaker default rule.
  test('a port in a rule host is refused, naming what to do instead', () => {
    for (const host of ['admin.example.com:38443', '*.example.com:443']) {
      const problems = parseProblems({ policy: { rules: [{ hosts: [host], token: 'aal2' }] } });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(
        problems[0] ?? '',
        /^policy\.rules\[0\]\.hosts\[0\]: must not have a port: the client chooses the port .*context_extensions\.policy/,
      );
    }
  });

  test('http_authz_address "" turns the listener off; trusted_proxies take bare addresses and CIDRs', () => {
    assert.equal(parseConfig({ server: { http_authz_address: '' } }, {}).server.http_authz_address, '');
    assert.deepEqual(
      parseConfig({ http_authz: { trusted_proxies: ['203.0.113.7', '2001:db8::/32', '0.0.0.0/0'] } }, {}).http_authz
        .trusted_proxies,
      ['203.0.113.7', '2001:db8::/32', '0.0.0.0/0'],
    );
    assert.deepEqual(parseConfig({ http_authz: { trusted_proxies: [] } }, {}).http_authz.trusted_proxies, []);
  });

  test('IPv6 listen addresses are accepted', () => {
    assert.equal(parseConfig({ server: { grpc_address: '[::]:9191' } }, {}).server.grpc_address, '[::]:9191');
  });
});

describe('${ENV} substitution', () => {
  test('replaces references in any string, several per string', () => {
    const config = parseConfig(
      {
        kratos: { admin_token: '${TOKEN}', public_url: 'http://${HOST}:${PORT}' },
        return_to: { allowed_hosts: ['${APP_HOST}'] },
      },
      { TOKEN: 's3cret', HOST: 'kratos', PORT: '4433', APP_HOST: 'app.example.com' },
    );
    assert.equal(config.kratos.admin_token, 's3cret');
    assert.equal(config.kratos.public_url, 'http://kratos:4433');
    assert.deepEqual(config.return_to.allowed_hosts, ['app.example.com']);
  });

  test('an empty variable is substituted as ""', () => {
    assert.equal(parseConfig({ kratos: { admin_token: 'x${EMPTY}y' } }, { EMPTY: '' }).kratos.admin_token, 'xy');
  });

  test('the substituted value is validated afterwards', () => {
    assert.deepEqual(parseProblems({ kratos: { timeout: '${T}' } }, { T: 'soon' }), [
      'kratos.timeout: "soon" is not a duration (use e.g. 150ms, 2s, 1m)',
    ]);
  });

  test('substituted values are not substituted again', () => {
    assert.equal(parseConfig({ kratos: { admin_token: '${A}' } }, { A: '${B}', B: 'no' }).kratos.admin_token, '${B}');
  });

  test('things that are not references are left alone', () => {
    assert.equal(
      parseConfig({ kratos: { admin_token: '$HOME ${ } ${1X} $' } }, { HOME: '/root' }).kratos.admin_token,
      '$HOME ${ } ${1X} $',
    );
  });

  test('a missing variable names the key and the variable', () => {
    assert.deepEqual(parseProblems({ kratos: { admin_token: '${KRATOS_ADMIN_TOKEN}' } }), [
      'kratos.admin_token: environment variable KRATOS_ADMIN_TOKEN is not set',
    ]);
  });

  test('a missing variable inside a list names the index', () => {
    assert.deepEqual(parseProblems({ return_to: { allowed_hosts: ['a.example.com', '${HOST}'] } }), [
      'return_to.allowed_hosts[1]: environment variable HOST is not set',
    ]);
  });

  test('every missing variable is reported', () => {
    assert.deepEqual(parseProblems({ kratos: { admin_token: '${A}${B}' } }), [
      'kratos.admin_token: environment variable A is not set',
      'kratos.admin_token: environment variable B is not set',
    ]);
  });

  test('defaults to process.env', () => {
    const name = 'KRATOS_EXT_AUTHZ_UNIT_TEST_TOKEN';
    process.env[name] = 'from-process-env';
    try {
      assert.equal(parseConfig({ kratos: { admin_token: `\${${name}}` } }).kratos.admin_token, 'from-process-env');
    } finally {
      delete process.env[name];
    }
  });
});

describe('highest_available needs the admin API', () => {
  const KEY = 'kratos.admin_url: ';

  test('default policy (cookie highest_available) with admin_url "" is an error', () => {
    const problems = parseProblems({ kratos: { admin_url: '' } });
    assert.equal(problems.length, 1);
    assert.ok(problems[0]?.startsWith(KEY), problems[0]);
    assert.match(problems[0] ?? '', /whoami_enforces_highest_available/);
  });

  test('highest_available only in a rule is also an error', () => {
    const problems = parseProblems({
      kratos: { admin_url: '' },
      policy: { cookie: 'aal1', rules: [{ paths: ['/x'] }, { token: 'highest_available' }] },
    });
    assert.ok(problems[0]?.startsWith(KEY), problems[0]);
  });

  test('accepted with whoami_enforces_highest_available: true', () => {
    const config = parseConfig({ kratos: { admin_url: '', whoami_enforces_highest_available: true } }, {});
    assert.equal(config.kratos.admin_url, '');
    assert.equal(config.policy.cookie, 'highest_available');
  });

  test('accepted when nothing asks for highest_available', () => {
    const config = parseConfig(
      {
        kratos: { admin_url: '' },
        policy: { cookie: 'aal2', token: 'aal1', rules: [{ cookie: 'aal1' }, { anonymous: true }] },
      },
      {},
    );
    assert.equal(config.kratos.admin_url, '');
  });

  test('accepted with an admin_url', () => {
    assert.equal(parseConfig({ policy: { token: 'highest_available' } }, {}).kratos.admin_url, 'http://127.0.0.1:4434');
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kratos-ext-authz-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const target = path.join(dir, name);
    writeFileSync(target, text);
    return target;
  };

  test('a missing file is a ConfigError naming the file', () => {
    const missing = path.join(dir, 'missing.yaml');
    assert.deepEqual(
      problemsOf(() => loadConfig(missing, {})),
      [`${missing}: cannot read (ENOENT)`],
    );
  });

  test('a directory is a ConfigError', () => {
    assert.deepEqual(
      problemsOf(() => loadConfig(dir, {})),
      [`${dir}: cannot read (EISDIR)`],
    );
  });

  test('invalid YAML is a ConfigError naming the file', () => {
    const bad = file('bad.yaml', 'kratos: [\n  a: b\n');
    const problems = problemsOf(() => loadConfig(bad, {}));
    assert.ok(problems.length > 0);
    for (const problem of problems) assert.ok(problem.startsWith(`${bad}: `), problem);
  });

  test('duplicate YAML keys are a ConfigError', () => {
    const dup = file('dup.yaml', 'kratos:\n  timeout: 1s\n  timeout: 2s\n');
    assert.ok(problemsOf(() => loadConfig(dup, {}))[0]?.startsWith(`${dup}: `));
  });

  test('an empty file gives the defaults at start-up; a reload refuses it, but takes {}', () => {
    const refused = (file: string) => [
      `${file}: is empty (no settings, only whitespace or comments): a reload never replaces the running configuration with the defaults; write {} for every default`,
    ];
    for (const [name, text] of [
      ['empty.yaml', ''],
      ['comments.yaml', '# nothing here\n'],
      ['blank.yaml', '\n  \n'],
      ['marker.yaml', '---\n'],
    ] as const) {
      const empty = file(name, text);
      assert.deepEqual(loadConfig(empty, {}), DEFAULTS);
      assert.deepEqual(
        problemsOf(() => loadReloadedConfig(empty, {})),
        refused(empty),
      );
    }
    assert.deepEqual(loadReloadedConfig(file('braces.yaml', '{}\n'), {}), DEFAULTS);
    assert.deepEqual(loadReloadedConfig(undefined, {}), DEFAULTS);
  });

  test('a valid file is parsed, with substitution from the given env', () => {
    const good = file(
      'good.yaml',
      'kratos:\n  timeout: 2s\n  admin_token: ${T}\npolicy:\n  rules:\n    - name: open\n      anonymous: true\n',
    );
    const config = loadConfig(good, { T: 'tok' });
    assert.equal(config.kratos.timeout, 2000);
    assert.equal(config.kratos.admin_token, 'tok');
    assert.deepEqual(config.policy.rules, [{ name: 'open', anonymous: true }]);
  });

  test('schema problems in a file are reported with key paths', () => {
    const unknown = file('unknown.yaml', 'kratos:\n  timeoutx: 1s\n');
    assert.deepEqual(
      problemsOf(() => loadConfig(unknown, {})),
      ['kratos.timeoutx: unknown key'],
    );
  });
});

describe('credential requirements: the short form and {aal, max_age}', () => {
  test('the short form stays as written; the long form reads max_age as milliseconds', () => {
    const config = parseConfig(
      { policy: { cookie: 'aal2', token: { aal: 'aal1', max_age: '1h' }, rules: [{ cookie: { aal: 'aal2' } }] } },
      {},
    );
    assert.equal(config.policy.cookie, 'aal2');
    assert.deepEqual(config.policy.token, { aal: 'aal1', max_age: 3_600_000 });
    assert.deepEqual(config.policy.rules[0]?.cookie, { aal: 'aal2' });
  });

  test('problems are named at their own key', () => {
    assert.deepEqual(parseProblems({ policy: { cookie: { aal: 'aal1', max_age: 'soon' } } }), [
      'policy.cookie.max_age: "soon" is not a duration (use e.g. 150ms, 2s, 1m)',
    ]);
    assert.deepEqual(parseProblems({ policy: { rules: [{ token: { aal: 'aal1', max_age: '0s' } }] } }), [
      'policy.rules[0].token.max_age: must be greater than 0',
    ]);
    assert.deepEqual(parseProblems({ policy: { cookie: { aal: 'aal1', maxage: '5m' } } }), [
      'policy.cookie.maxage: unknown key',
    ]);
    assert.deepEqual(parseProblems({ policy: { cookie: { max_age: '5m' } } }), [
      'policy.cookie: must be aal1, aal2 or highest_available, or {aal: <one of them>, max_age: <duration>}',
    ]);
  });

  test('highest_available in the long form still needs the admin API', () => {
    const problems = parseProblems({
      kratos: { admin_url: '' },
      policy: { cookie: 'aal1', rules: [{ cookie: { aal: 'highest_available', max_age: '5m' } }] },
    });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^kratos\.admin_url: highest_available needs the Kratos admin API/);
  });
});
