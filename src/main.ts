#!/usr/bin/env node
import { runSubcommand, SUBCOMMAND_SUMMARY } from './cli/commands';
import { EXIT_CODES } from './cli/exit-codes';
import { ConfigError, loadConfig } from './config/load';
import { ConfigReloader, type ReloadTrigger } from './config/reload';
import type { Config } from './config/schema';
import { watchConfigFile } from './config/watch';
import { createLogger } from './observability/logger';
import { startService } from './server/service';

const USAGE = `usage: kratos-ext-authz [--config <file.yaml>] [--watch-config]
       kratos-ext-authz <command> [options]     (kratos-ext-authz <command> --help for its options)

Envoy ext_authz gRPC service enforcing Ory Kratos sessions: browsers (session cookie) must meet
the identity's highest available AAL, API clients (session token) aal1. The config file may also
be named by KRATOS_EXT_AUTHZ_CONFIG; without one, every key takes its default.

With no command it serves. SIGHUP re-reads the config file; --watch-config also does when the
file changes (Kubernetes ConfigMap updates included). A config that fails validation is
rejected as a whole and the running one stays.

commands:
${SUBCOMMAND_SUMMARY}

${EXIT_CODES}`;

function parseArguments(argv: string[]): { configPath: string | undefined; watch: boolean } {
  let configPath = process.env.KRATOS_EXT_AUTHZ_CONFIG || undefined;
  let watch = false;
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
    } else if (argument === '--watch-config') {
      watch = true;
    } else {
      fail(`unknown argument ${argument}`);
    }
  }
  if (watch && configPath === undefined) fail('--watch-config needs a config file (--config or KRATOS_EXT_AUTHZ_CONFIG)');
  return { configPath, watch };
}

function fail(message: string): never {
  process.stderr.write(`kratos-ext-authz: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function serve(argv: string[]): Promise<void> {
  const { configPath, watch } = parseArguments(argv);
  // Node's default for SIGHUP is to exit: until the service runs, a reload request is noted only.
  let reload = (trigger: ReloadTrigger): void => void process.stderr.write(`kratos-ext-authz: ${trigger} before serving: ignored\n`);
  process.on('SIGHUP', () => reload('SIGHUP'));
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
  const reloader = new ConfigReloader(configPath, config, service.reconfigure, logger, service.metrics.registry);
  reload = (trigger) => reloader.reload(trigger);
  const watcher = watch && configPath !== undefined ? watchConfigFile(configPath, () => reload('watch')) : undefined;

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    watcher?.close();
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

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const exitCode = await runSubcommand(argv);
  if (exitCode === undefined) return serve(argv);
  // Let stdout drain before exiting: a test report piped to a file must arrive whole.
  process.exitCode = exitCode;
}

main().catch((error: unknown) => {
  process.stderr.write(`kratos-ext-authz: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
