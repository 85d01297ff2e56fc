/** The operator subcommands run as a child process: their output and exit codes. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load';
import { runBin as run, ROOT } from '../support/executable';
import { KratosEmulator } from '../support/kratos-emulator';

const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-cli-'));
const EXAMPLE_CONFIG = join(ROOT, 'examples', 'config.yaml');

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('--help', () => {
  for (const command of ['check-config', 'explain', 'test']) {
    test(`${command} --help prints its usage and the exit codes, exit 0`, async () => {
      const result = await run([command, '--help']);
      assert.equal(result.code, 0);
      assert.match(result.stdout, new RegExp(`^usage: kratos-ext-authz ${command} `));
      assert.match(result.stdout, /exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 /);
    });
  }

  test('the top-level --help lists every subcommand', async () => {
    const result = await run(['--help']);
    for (const command of ['check-config', 'explain', 'test'])
      assert.match(result.stdout, new RegExp(`^ {2}${command} +\\S`, 'm'));
  });

  test('an unknown option exits 2 with the subcommand usage on stderr', async () => {
    const result = await run(['explain', '--url', 'https://a.example/', '--nope']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^kratos-ext-authz explain: Unknown option '--nope'/);
    assert.match(result.stderr, /usage: kratos-ext-authz explain/);
    assert.equal(result.stdout, '');
  });
});

describe('check-config', () => {
  test('prints the effective config, every default filled in, loadable again to the same config', async () => {
    const config = file(
      'partial.yaml',
      'kratos: {timeout: 2s}\npolicy: {rules: [{name: api, paths: ["/api/*"], token: aal2}]}\n',
    );
    const result = await run(['check-config', '--config', config]);
    assert.equal(result.code, 0, result.stderr);
    const printed = parse(result.stdout) as Record<string, Record<string, unknown>>;
    assert.equal(printed.kratos?.timeout, '2s');
    assert.equal(printed.cache?.identity_ttl, '1m');
    assert.equal(printed.server?.grpc_address, '0.0.0.0:9191');
    assert.deepEqual(
      parseConfig(printed, {}),
      parseConfig(
        { kratos: { timeout: '2s' }, policy: { rules: [{ name: 'api', paths: ['/api/*'], token: 'aal2' }] } },
        {},
      ),
    );
  });

  test('kratos.admin_token is redacted; --json', async () => {
    const config = file('secret.yaml', 'kratos: {admin_token: "${ADMIN_TOKEN}"}\n');
    const result = await run(['check-config', '--config', config, '--json'], {
      ADMIN_TOKEN: 'ory_pat_secret_value_123',
    });
    assert.equal(result.code, 0, result.stderr);
    const printed = JSON.parse(result.stdout) as { kratos: Record<string, unknown> };
    assert.equal(printed.kratos.admin_token, '<redacted>');
    assert.doesNotMatch(result.stdout, /ory_pat_secret_value_123/);
  });

  test('credentials in a Kratos URL stop check-config, start-up, explain and test (exit 2), and no output holds them', async () => {
    // An "@" in the password: redaction up to the first "@" used to print "ss@kratos.internal".
    // Loopback port 0: a build that accepts the file serves instead of exiting, on no fixed port.
    const listen = 'server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: ""}\n';
    const config = file('userinfo.yaml', `${listen}kratos: {public_url: "http://ops:hunter2@ss@kratos.internal"}\n`);
    const tests = file(
      'userinfo-tests.yaml',
      `config: ${config}\ntests: [{name: t, request: {url: "https://a.example/"}, expect: 401}]\n`,
    );
    const runs = await Promise.all([
      run(['check-config', '--config', config]),
      run(['--config', config]),
      run(['explain', '--config', config, '--url', 'https://a.example/', '-H', 'sec-fetch-mode: navigate']),
      run(['test', tests]),
    ]);
    for (const result of runs) {
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.match(result.stderr, /kratos\.public_url: must not contain credentials \(user:password@\)/);
      assert.doesNotMatch(result.stdout + result.stderr, /hunter2|ss@kratos/);
    }
  });

  test('an invalid config exits 2 with exactly the messages start-up prints', async () => {
    const config = file('bad.yaml', 'kratos:\n  timeout: soon\n  extra: 1\npolicy:\n  rules:\n    - paths: ["nope"]\n');
    const checked = await run(['check-config', '--config', config]);
    const started = await run(['--config', config]);
    assert.equal(checked.code, 2);
    assert.equal(started.code, 2);
    assert.equal(checked.stderr, started.stderr);
    assert.match(checked.stderr, /kratos\.timeout: "soon" is not a duration/);
    assert.match(checked.stderr, /policy\.rules\[0\]\.paths\[0\]: must start with "\/"/);
    assert.equal(checked.stdout, '');
  });

  test('its last line says which code-MFA rule applies (on stderr with --json)', async () => {
    const config = file(
      'code-mfa.yaml',
      'kratos: {code_mfa_enabled: true, admin_url: "", version: v1.3.1, whoami_enforces_highest_available: true}\n',
    );
    const result = await run(['check-config', '--config', config]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /\n# code MFA: Kratos v1\.3\.1 \(from kratos\.version\); code MFA rule every_identity: every identity is aal2-available \(Kratos up to v1\.3\.x\)\n$/,
    );
    const json = await run(['check-config', '--json']);
    assert.match(
      json.stderr,
      /^check-config: code MFA: the rule follows the Kratos version read from \{kratos\.admin_url\}\/admin\/version at start; the stricter rule every_identity while it does not answer \(not applied/,
    );
    JSON.parse(json.stdout);
  });

  test('the config may come from KRATOS_EXT_AUTHZ_CONFIG', async () => {
    const result = await run(['check-config'], { KRATOS_EXT_AUTHZ_CONFIG: file('env.yaml', 'log: {level: warn}\n') });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /level: warn/);
  });
});

describe('explain', () => {
  const cookieValue = `MTcw${'x'.repeat(208)}`;
  const session = file(
    'session.json',
    JSON.stringify({
      id: 'sess-1',
      active: true,
      expires_at: '2099-01-01T00:00:00Z',
      authenticator_assurance_level: 'aal1',
      identity: { id: 'ident-1', traits: {} },
    }),
  );

  test('a browser at aal1 on the admin host: rule, credential, style, requirement, session, decision and answer', async () => {
    const result = await run([
      'explain',
      '--config',
      EXAMPLE_CONFIG,
      '--url',
      'https://admin.example.com/users?page=2',
      '-H',
      'sec-fetch-mode: navigate',
      '-H',
      `cookie: theme=dark; ory_kratos_session=${cookieValue}`,
      '-H',
      'authorization: Bearer tok-ignored-123',
      '--session',
      session,
      '--available-aal',
      'aal2',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const out = result.stdout;
    assert.match(out, /^rule +admin: cookie aal2, token aal2$/m);
    assert.match(out, /^ +\/users -> admin; skipped public \(paths did not match\)$/m);
    assert.match(out, /^credential +<cookie ory_kratos_session, 212 bytes>$/m);
    assert.match(out, /ignored: <token authorization: Bearer, 15 bytes>/);
    assert.match(out, /^answered as +browser navigation \(redirects\), because sec-fetch-mode: navigate$/m);
    assert.match(out, /^requirement +cookie: aal2$/m);
    assert.match(out, /^session +whoami \(from .*session\.json\): active session sess-1 of identity ident-1, aal1/m);
    assert.match(out, /^decision +aal_too_low, rule admin, credential cookie$/m);
    assert.match(out, /^outcome +redirect_step_up$/m);
    assert.match(
      out,
      /^answer +302 \(gRPC status 16\)\n +location: http:\/\/127\.0\.0\.1:4433\/self-service\/login\/browser\?aal=aal2&return_to=https%3A%2F%2Fadmin\.example\.com%2Fusers%3Fpage%3D2$/m,
    );
    assert.ok(
      !out.includes(cookieValue) && !out.includes('tok-ignored-123') && !out.includes('theme=dark'),
      'no credential or cookie echoed',
    );
  });

  test('why earlier rules did not match, per reading, and a path whose readings disagree', async () => {
    const result = await run([
      'explain',
      '--config',
      EXAMPLE_CONFIG,
      '--url',
      'https://app.example.com/assets/../internal/x',
      '-H',
      'accept: application/json',
    ]);
    assert.equal(result.code, 0);
    assert.match(
      result.stdout,
      /^path +\/assets\/\.\.\/internal\/x {2}\(as sent\)\n +\/internal\/x {2}\(WHATWG URL, normalised\)$/m,
    );
    assert.match(result.stdout, /^rule +none: the readings select different rules \(public, internal\)/m);
    assert.match(
      result.stdout,
      /\/internal\/x -> internal; skipped public \(paths did not match\), admin \(hosts did not match\)/,
    );
    assert.match(result.stdout, /^outcome +400$/m);
  });

  test('--json: the same facts for machines, an anonymous allow with identity headers removed', async () => {
    const result = await run([
      'explain',
      '--config',
      EXAMPLE_CONFIG,
      '--url',
      'https://app.example.com/',
      '-H',
      'x-session-token: secret-token-value',
      '--json',
    ]);
    assert.equal(result.code, 0);
    const trace = JSON.parse(result.stdout) as {
      outcome: string;
      decision: { kind: string; policy: string };
      credential: { chosen: { shown: string } };
      response: { status: number; removedHeaders: string[] };
    };
    assert.equal(trace.outcome, 'allow');
    assert.equal(trace.decision.policy, 'public');
    assert.equal(trace.credential.chosen.shown, '<token x-session-token, 18 bytes>');
    assert.ok(trace.response.removedHeaders.includes('x-kratos-identity-id'));
    assert.ok(!result.stdout.includes('secret-token-value'));
  });

  test('--joined-headers reads headers as the headers map of Envoy: a "," then separates cookies', async () => {
    const args = ['explain', '--url', 'https://app.example.com/x', '-H', 'cookie: a=1,ory_kratos_session=abc'];
    const raw = await run(args);
    const joined = await run([...args, '--joined-headers']);
    assert.match(raw.stdout, /^credential +none$/m);
    assert.match(joined.stdout, /^credential +<cookie ory_kratos_session, 3 bytes>$/m);
  });

  test('bad input exits 2: no --url, a URL that is not absolute, a malformed session file', async () => {
    for (const [args, pattern] of [
      [['explain'], /--url is required/],
      [['explain', '--url', '/relative'], /not an absolute URL/],
      [
        ['explain', '--url', 'https://a.example/', '--session', file('garbage.json', '{nope')],
        /--session .*garbage\.json/,
      ],
    ] as const) {
      const result = await run([...args]);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, pattern);
    }
  });

  describe('--kratos', () => {
    let emulator: KratosEmulator;
    before(async () => {
      emulator = await KratosEmulator.start();
    });
    after(() => emulator.stop());

    test('asks the configured Kratos for the session and the identity', async () => {
      const identity = emulator.addIdentity({ credentials: { totp: { totp_url: 'otpauth://totp/x' } } });
      const created = emulator.createSession(identity);
      const config = file(
        'live.yaml',
        `kratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}", timeout: 2s}\n`,
      );
      const result = await run([
        'explain',
        '--config',
        config,
        '--url',
        'https://app.example.com/app',
        '-H',
        `x-session-token: ${created.token}`,
        '--kratos',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        new RegExp(
          `^session +whoami \\(asked ${emulator.publicUrl.replace(/[.]/g, '\\.')}\\): active session ${created.id} of identity ${identity}, aal1`,
          'm',
        ),
      );
      assert.match(result.stdout, /^outcome +allow$/m);
      assert.match(result.stdout, new RegExp(`set x-kratos-identity-id: ${identity}`));
      assert.ok(!result.stdout.includes(created.token));
    });

    test('shows what the upstream gets of the credentials without printing a cookie', async () => {
      const identity = emulator.addIdentity();
      const created = emulator.createSession(identity);
      const config = file(
        'strip.yaml',
        `kratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}", timeout: 2s}\n`,
      );
      const cookie = `app=app-secret-value; ${emulator.cookieHeaderFor(created)}`;
      const result = await run([
        'explain',
        '--config',
        config,
        '--url',
        'https://app.example.com/app',
        '-H',
        `x-session-token: ${created.token}`,
        '-H',
        `cookie: ${cookie}`,
        '--kratos',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /set cookie: <20 bytes>/);
      assert.match(result.stdout, /remove .*x-session-token/);
      assert.ok(
        !result.stdout.includes('app-secret-value') &&
          !result.stdout.includes(created.cookie) &&
          !result.stdout.includes(created.token),
      );
    });

    test('reads the Kratos version and applies its code-MFA rule', async () => {
      const old = await KratosEmulator.start({ kratosVersion: 'v1.3.1', codeMfaEnabled: true });
      try {
        const created = old.createSession(old.addIdentity({ credentials: { password: { identifiers: ['u-2'] } } }));
        const config = file(
          'live-v1.yaml',
          `kratos: {public_url: "${old.publicUrl}", admin_url: "${old.adminUrl}", timeout: 2s, code_mfa_enabled: true}\n`,
        );
        const result = await run([
          'explain',
          '--config',
          config,
          '--url',
          'https://app.example.com/app',
          '-H',
          `cookie: ${old.cookieHeaderFor(created)}`,
          '-H',
          'sec-fetch-mode: cors',
          '--kratos',
        ]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(
          result.stdout,
          /^ +code MFA: Kratos v1\.3\.1 \(from the admin API\); code MFA rule every_identity/m,
        );
        assert.match(result.stdout, /available AAL aal2/);
      } finally {
        await old.stop();
      }
    });
  });
});

describe('test', () => {
  test('examples/policy-tests.yaml passes against examples/config.yaml and covers every rule', async () => {
    const result = await run(['test', join(ROOT, 'examples', 'policy-tests.yaml')]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines.at(-1) ?? '', /^(\d+) passed, 0 failed$/);
    assert.ok(lines.slice(0, -1).every((line) => line.startsWith('ok    ')));
    const cases = parse(readFileSync(join(ROOT, 'examples', 'policy-tests.yaml'), 'utf8')) as {
      tests: Array<{ rule?: string }>;
    };
    const rules = cases.tests.map((testCase) => testCase.rule);
    for (const rule of ['public', 'payout', 'admin', 'internal', 'default'])
      assert.ok(rules.includes(rule), `a case pins rule ${rule}`);
  });

  test('a failing case: FAIL line, expected (-) against actual (+), the count, exit 1', async () => {
    const tests = file(
      'failing.yaml',
      `config: ${EXAMPLE_CONFIG}\ntests:\n` +
        '  - name: admins at aal1 pass (wrong)\n    request: {url: "https://admin.example.com/users", credential: cookie, headers: {sec-fetch-mode: navigate}}\n    session: {aal: aal1, available_aal: aal2}\n    expect: allow\n    rule: admin\n' +
        '  - name: home is public\n    request: {url: "https://app.example.com/"}\n    expect: allow\n',
    );
    const result = await run(['test', tests]);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /^FAIL {2}admins at aal1 pass \(wrong\)\n {8}- outcome: allow\n {8}\+ outcome: redirect_step_up\n {10}\(decision aal_too_low, rule admin/m,
    );
    assert.doesNotMatch(result.stdout, /- rule:/, 'the rule matched, so it is not in the diff');
    assert.match(result.stdout, /^ok {4}home is public$/m);
    assert.match(result.stdout, /^1 passed, 1 failed\n$/m);
  });

  test('identity headers are compared when a case names them', async () => {
    const tests = file(
      'identity.yaml',
      'tests:\n  - name: token\n    request: {url: "https://a.example/", credential: token}\n    session: {aal: aal1, identity_id: id-7}\n    expect: allow\n    identity_headers: {x-kratos-identity-id: id-8}\n',
    );
    const result = await run(['test', tests]);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /- identity_headers: x-kratos-identity-id=id-8\n +\+ identity_headers: x-kratos-identity-id=id-7/,
    );
  });

  test('an invalid tests file exits 2, one problem a line', async () => {
    const tests = file(
      'invalid.yaml',
      'tests:\n  - name: x\n    request: {url: "https://a.example/"}\n    session: {aal: aal1, authenticated_ago: soon}\n    expect: allow\n  - name: y\n    request: {url: "https://a.example/", typo: 1}\n    expect: 402\n',
    );
    const result = await run(['test', tests]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /tests\[0\]\.session\.authenticated_ago: "soon" is not a duration/);
    assert.match(result.stderr, /tests\[1\]\.request\.typo: unknown key/);
    assert.match(result.stderr, /tests\[1\]\.expect: must be one of allow, /);
    assert.equal(result.stdout, '');
  });
});
