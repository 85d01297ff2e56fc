import { ConfigError } from '../config/load';
import { checkConfig } from './check-config';
import { UsageError } from './command-line';
import { EXIT, EXIT_CODES } from './exit-codes';
import { explain } from './explain';
import { policyTest } from './policy-test';
import type { Subcommand } from './subcommand';

const SUBCOMMANDS: readonly Subcommand[] = [checkConfig, explain, policyTest];

export const SUBCOMMAND_SUMMARY = SUBCOMMANDS.map((command) => `  ${command.name.padEnd(13)} ${command.summary}`).join(
  '\n',
);

/** Runs `argv[0]` as a subcommand and resolves its exit code; undefined when argv names none (the binary serves). */
export async function runSubcommand(argv: readonly string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  const command = SUBCOMMANDS.find((candidate) => candidate.name === name);
  if (!command) return undefined;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n\n${EXIT_CODES}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`kratos-ext-authz ${command.name}: ${error.message}\n${command.usage}\n`);
      return EXIT.usage;
    }
    // The very message start-up prints.
    if (error instanceof ConfigError) {
      process.stderr.write(`kratos-ext-authz: ${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}
