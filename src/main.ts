#!/usr/bin/env node
import { ConfigError, loadConfig } from './config/load';
import type { Config } from './config/schema';
import { createLogger } from './observability/logger';
import { startService } from './server/service';

const USAGE = `usage: kratos-ext-authz [--config <file.yaml>]

Envoy ext_authz gRPC service enforcing Ory Kratos sessions: browsers (session cookie) must meet
the identity's highest available AAL, API clients (session token) aal1. The config file may also
be named by KRATOS_EXT_AUTHZ_CONFIG; without one, every key takes its default.`;

// Exit codes: 0 clean stop, 1 runtime failure, 2 bad command line or configuration.
function parseArguments(argv: string[]): { configPath: string | undefined } {
  let configPath = process.env.KRATOS_EXT_AUTHZ_CONFIG || undefined;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (argument === '--help' || argument === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (argument === '--config' || argument === '-c') {
      configPath = argv[++index];
      if (!configPath) fail('--config needs a file path');
    } else if (argument.startsWith('--config=')) {
      configPath = argument.slice('--config='.length);
    } else {
      fail(`unknown argument ${argument}`);
    }
  }
  return { configPath };
}

function fail(message: string): never {
  process.stderr.write(`kratos-ext-authz: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { configPath } = parseArguments(process.argv.slice(2));
  let config: Config;
  try {
    config = loadConfig(configPath);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`kratos-ext-authz: ${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.log);
  const service = await startService(config, logger);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'draining');
    service.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: String(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`kratos-ext-authz: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
