import { stringify } from 'yaml';
import type { Subcommand } from './subcommand';
import { CONFIG_OPTION, configFromCommandLine, parseCommandLine } from './command-line';
import { effectiveConfig } from './effective-config';
import { EXIT } from './exit-codes';
import { plannedReadingText } from '../kratos/kratos-version';

export const checkConfig: Subcommand = {
  name: 'check-config',
  summary: 'validate a config as start-up does and print it with every default filled in',
  usage: `usage: kratos-ext-authz check-config [--config <file.yaml>] [--json]

Validates the configuration exactly as start-up does (the same messages, one problem a line,
exit 2), then prints the effective configuration: every default filled in, \${NAME} references
replaced, secrets shown as "<redacted>". The output is itself a valid config file; its last
line, a comment (on stderr with --json), says which code-MFA rule (Kratos version) applies.

  -c, --config <file>  the config file (default: KRATOS_EXT_AUTHZ_CONFIG, else no file: all defaults)
      --json           print JSON instead of YAML`,
  run: async (argv) => {
    const { values } = parseCommandLine({
      args: argv,
      options: { ...CONFIG_OPTION, json: { type: 'boolean' } },
      strict: true,
    });
    const config = configFromCommandLine(values.config);
    const shown = effectiveConfig(config);
    const codeMfa = `code MFA: ${plannedReadingText(config.kratos, config.kratos.code_mfa_enabled)}`;
    if (values.json) process.stderr.write(`check-config: ${codeMfa}\n`);
    process.stdout.write(values.json ? `${JSON.stringify(shown, null, 2)}\n` : `${stringify(shown)}# ${codeMfa}\n`);
    return EXIT.ok;
  },
};
