import { ConfigError } from '../config/load';
import type { Config } from '../config/schema';
import { compilePolicy, type Policy } from '../policy/policy';
import type { Subcommand } from './subcommand';
import { CONFIG_OPTION, configFromCommandLine, parseCommandLine, UsageError } from './command-line';
import { EXIT } from './exit-codes';
import { loadPolicyTests, type PolicyTestCase, type PolicyTests } from './policy-tests-file';
import { parseHeaderLine, type RequestInput } from './request-input';
import { kratosFromFacts, type KratosFacts } from './session-facts';
import { traceRequest, type Trace } from './trace';

export const policyTest: Subcommand = {
  name: 'test',
  summary: 'run policy tests written as data against a config, with no Kratos',
  usage: `usage: kratos-ext-authz test <tests.yaml> [--config <file.yaml>]

Runs each case (a request, what Kratos would say about its credential, the expected outcome)
through the service's own check, with Kratos replaced by the case's facts. Prints one line a
case and "N passed, M failed"; a failing case shows expected (-) against actual (+).

  -c, --config <file>  the config to test (default: the tests file's "config:", else
                       KRATOS_EXT_AUTHZ_CONFIG, else defaults)

A case:
  - name: admins need a second factor
    request:
      method: GET                          # default GET
      url: https://admin.example.com/users
      headers: {sec-fetch-mode: navigate}  # or a list of "name: value" lines
      credential: cookie                   # a stand-in cookie, token or bearer credential
      context_extensions: {policy: admin}  # Envoy per-route context_extensions
    session: {aal: aal1, available_aal: aal2}   # what whoami says; "none" (default) is a 401;
                                           # authenticated_ago: 10m for a max_age rule
    kratos: up                             # up (default), down, admin_down
    expect: redirect_step_up               # allow, redirect_login, redirect_step_up,
                                           # redirect_refresh, 401, 403, 403_aal,
                                           # 403_refresh, 503, 400, 500
    rule: admin                            # optional: the rule that must apply
    identity_headers: {x-kratos-aal: aal1} # optional: x-kratos-* set upstream, or none`,
  run: async (argv) => {
    const { values, positionals } = parseCommandLine({
      args: argv,
      options: CONFIG_OPTION,
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one tests file');
    const file = positionals[0] as string;
    let suite: PolicyTests;
    try {
      suite = loadPolicyTests(file);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      process.stderr.write(
        `kratos-ext-authz test: invalid tests file:\n${error.problems.map((problem) => `  ${problem}`).join('\n')}\n`,
      );
      return EXIT.usage;
    }
    const config = configFromCommandLine(values.config ?? suite.configPath);
    const policy = compilePolicy(config.policy);
    let failed = 0;
    for (const testCase of suite.tests) {
      const differences = await runCase(config, policy, testCase);
      if (differences.length > 0) failed++;
      process.stdout.write(
        differences.length === 0
          ? `ok    ${testCase.name}\n`
          : `FAIL  ${testCase.name}\n${differences.map((line) => `        ${line}`).join('\n')}\n`,
      );
    }
    process.stdout.write(`${suite.tests.length - failed} passed, ${failed} failed\n`);
    return failed === 0 ? EXIT.ok : EXIT.failed;
  },
};

/** The lines of the diff (empty when the case passes). */
async function runCase(config: Config, policy: Policy, testCase: PolicyTestCase): Promise<string[]> {
  const trace = await traceRequest(
    config,
    requestOf(config, testCase),
    kratosFromFacts(factsOf(config, testCase)),
    policy,
  );
  if ('problem' in trace) return [`request: ${trace.problem}`];
  const expected: Record<string, string> = { outcome: testCase.expect };
  const actual: Record<string, string> = { outcome: trace.outcome };
  if (testCase.rule !== undefined) {
    expected.rule = testCase.rule;
    actual.rule = trace.decision.policy;
  }
  if (testCase.identity_headers !== undefined) {
    [expected.identity_headers, actual.identity_headers] = identityComparison(
      testCase.identity_headers,
      trace.identityHeaders,
    );
  }
  const diff = Object.keys(expected).flatMap((key) =>
    expected[key] === actual[key] ? [] : [`- ${key}: ${expected[key]}`, `+ ${key}: ${actual[key]}`],
  );
  return diff.length === 0 ? [] : [...diff, `  (${whatHappened(trace)})`];
}

/** Only the headers a case names are compared; `none` means no x-kratos-* header at all. */
function identityComparison(
  expected: 'none' | Readonly<Record<string, string>>,
  actual: Readonly<Record<string, string>>,
): [string, string] {
  const listed = (headers: Readonly<Record<string, string>>) =>
    Object.entries(headers)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ') || 'none';
  if (expected === 'none') return ['none', listed(actual)];
  return [
    listed(expected),
    Object.keys(expected)
      .map((name) => `${name}=${actual[name] ?? '(absent)'}`)
      .join(' '),
  ];
}

function whatHappened(trace: Trace): string {
  const { decision, response } = trace;
  const location = response.headers.find(([name]) => name === 'location')?.[1];
  return `decision ${decision.kind}, rule ${decision.policy}, credential ${decision.credential}, answer ${response.status}${location ? ` to ${location}` : ''}`;
}

const STAND_IN = 'policy-test-credential';

function requestOf(config: Config, testCase: PolicyTestCase): RequestInput {
  const { request } = testCase;
  const given = Array.isArray(request.headers)
    ? request.headers.map((line) => parseHeaderLine(line) as readonly [string, string])
    : Object.entries(request.headers);
  const credential: Record<string, readonly [string, string]> = {
    cookie: ['cookie', `${config.kratos.session_cookie}=${STAND_IN}`],
    token: ['x-session-token', STAND_IN],
    bearer: ['authorization', `Bearer ${STAND_IN}`],
  };
  const stand = request.credential && credential[request.credential];
  return {
    method: request.method,
    url: request.url,
    headers: stand ? [...given, stand] : given,
    contextExtensions: request.context_extensions,
  };
}

function factsOf(config: Config, testCase: PolicyTestCase): KratosFacts {
  const { session } = testCase;
  const whoami =
    session === 'none'
      ? undefined
      : {
          id: session.session_id,
          active: session.active,
          expires_at: session.expires_at ?? new Date(Date.now() + 3_600_000).toISOString(),
          authenticated_at: new Date(Date.now() - session.authenticated_ago).toISOString(),
          authenticator_assurance_level: session.aal,
          identity: { id: session.identity_id },
        };
  return {
    kratos: testCase.kratos,
    whoami,
    availableAal: session === 'none' ? 'aal1' : session.available_aal,
    whoamiEnforcesHighestAvailable: config.kratos.whoami_enforces_highest_available,
  };
}
