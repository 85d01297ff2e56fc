import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema';
import type { Subcommand } from './subcommand';
import { CONFIG_OPTION, configFromCommandLine, parseCommandLine, UsageError } from './command-line';
import { EXIT } from './exit-codes';
import { describeReading, type CodeMfaRule } from '../kratos/code-mfa-rule';
import { JsonGet } from '../kratos/json-get';
import { plannedReadingText, readKratosVersion, VERSION_TIMING } from '../kratos/kratos-version';
import { renderTrace } from './explain-text';
import { parseHeaderLine, type RequestInput } from './request-input';
import { kratosFromFacts, liveKratos, type RecordingKratos } from './session-facts';
import { traceRequest } from './trace';

export const explain: Subcommand = {
  name: 'explain',
  summary: 'show which rule, credential, requirement and answer a request gets, and why',
  usage: `usage: kratos-ext-authz explain --url <absolute URL> [--method GET] [-H 'name: value']...
                         [--session <whoami.json> [--available-aal aal1|aal2] | --kratos]
                         [--context-extension policy=<rule>] [--config <file.yaml>] [--json]

Runs the request through the service's own check and prints every step: the path readings and
the rule each selects (and why earlier rules did not match), the credential chosen and those
ignored by precedence, browser or API classification and the header that decided it, the
requirement, the session facts, the decision, and the exact answer the proxy would return.
Credentials are never printed, only their kind, source and size.

  -c, --config <file>            the config file (default: KRATOS_EXT_AUTHZ_CONFIG, else defaults)
      --url <url>                the request URL; the path is taken as written (no dot segments resolved)
  -X, --method <method>          the request method (default GET)
  -H, --header <name: value>     a request header line, repeatable (Envoy's header_map, one entry a line)
      --session <file>           the session Kratos's whoami would return for the credential (its JSON)
      --available-aal <aal>      the identity's highest available AAL (admin API; default aal1)
      --kratos                   ask the configured Kratos instead (the credential is sent there only)
      --context-extension <k=v>  Envoy per-route context_extensions, e.g. policy=admin; repeatable
      --joined-headers           send the headers as Envoy's default headers map, repeated lines
                                 joined with "," (Istio; without encode_raw_headers)
      --json                     print the explanation as JSON
Without --session or --kratos, Kratos knows no session (whoami answers 401).`,
  run: async (argv) => {
    const { values } = parseCommandLine({
      args: argv,
      strict: true,
      options: {
        ...CONFIG_OPTION,
        url: { type: 'string' },
        method: { type: 'string', short: 'X', default: 'GET' },
        header: { type: 'string', short: 'H', multiple: true, default: [] },
        session: { type: 'string' },
        'available-aal': { type: 'string', default: 'aal1' },
        kratos: { type: 'boolean', default: false },
        'context-extension': { type: 'string', multiple: true, default: [] },
        'joined-headers': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
    if (!values.url) throw new UsageError('--url is required');
    if (values.session !== undefined && values.kratos)
      throw new UsageError('--session and --kratos exclude each other');
    const availableAal = values['available-aal'];
    if (availableAal !== 'aal1' && availableAal !== 'aal2')
      throw new UsageError('--available-aal must be aal1 or aal2');
    const input: RequestInput = {
      method: values.method,
      url: values.url,
      headers: values.header.map((line) => parseHeaderLine(line) ?? badHeader(line)),
      contextExtensions: Object.fromEntries(values['context-extension'].map((pair) => splitPair(pair))),
      joinedHeaders: values['joined-headers'],
    };
    const config = configFromCommandLine(values.config);
    const live = values.kratos ? await liveCodeMfa(config) : undefined;
    const codeMfa = live ? live.text : plannedReadingText(config.kratos, config.kratos.code_mfa_enabled);
    const kratos = live
      ? liveKratos(config.kratos, live.rule)
      : kratosFromFacts({
          kratos: 'up',
          whoami: values.session === undefined ? undefined : readSession(values.session),
          availableAal,
          whoamiEnforcesHighestAvailable: config.kratos.whoami_enforces_highest_available,
        });
    const trace = await traceWith(config, input, kratos);
    if ('problem' in trace) throw new UsageError(trace.problem);
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ ...trace, codeMfa }, null, 2)}\n`
        : renderTrace(trace, sessionSource(values.session, values.kratos, config), codeMfa),
    );
    return EXIT.ok;
  },
};

/** The Kratos version and its code-MFA rule, read as start-up reads them. */
async function liveCodeMfa(config: Config): Promise<{ rule: CodeMfaRule; text: string }> {
  const adminApi = config.kratos.admin_url ? new JsonGet(config.kratos.admin_url) : undefined;
  try {
    const reading = await readKratosVersion(config.kratos, adminApi, VERSION_TIMING.timeoutMs);
    return { rule: reading.rule, text: describeReading(reading, config.kratos.code_mfa_enabled) };
  } finally {
    await adminApi?.close();
  }
}

async function traceWith(
  config: Config,
  input: RequestInput,
  kratos: RecordingKratos,
): ReturnType<typeof traceRequest> {
  try {
    return await traceRequest(config, input, kratos);
  } finally {
    await kratos.close();
  }
}

function sessionSource(file: string | undefined, live: boolean, config: Config): string {
  if (live) return `asked ${config.kratos.public_url}`;
  return file === undefined ? 'no --session given: Kratos knows none' : `from ${file}`;
}

function readSession(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--session ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function badHeader(line: string): never {
  throw new UsageError(`-H ${JSON.stringify(line.slice(0, 40))}: not a "name: value" header line`);
}

function splitPair(pair: string): [string, string] {
  const equals = pair.indexOf('=');
  if (equals <= 0) throw new UsageError(`--context-extension ${pair}: expected key=value`);
  return [pair.slice(0, equals), pair.slice(equals + 1)];
}
