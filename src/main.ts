#!/usr/bin/env node
/**
 * The entry point. On the main thread it loads only what it needs to tell a command from
 * serving: the service itself, and the configuration, run in worker threads (serve.ts), so the
 * main thread's heap stays small for the life of the process (heap-sized-worker.ts says why).
 */
import cluster from 'node:cluster';
import { isMainThread } from 'node:worker_threads';
import type { ServeArguments } from './serve';
import { isHeapSizingWorker, reportHeapSizing, serveInHeapSizedWorker } from './server/heap-sized-worker';

function usage(): string {
  // Loaded only to print the usage: the command modules are most of the program.
  const { SUBCOMMAND_SUMMARY } = require('./cli/commands') as typeof import('./cli/commands');
  const { EXIT_CODES } = require('./cli/exit-codes') as typeof import('./cli/exit-codes');
  return `usage: kratos-ext-authz [--config <file.yaml>] [--watch-config]
       kratos-ext-authz <command> [options]     (kratos-ext-authz <command> --help for its options)

Envoy ext_authz gRPC service enforcing Ory Kratos sessions: browsers (session cookie) must meet
the identity's highest available AAL, API clients (session token) aal1. The config file may also
be named by KRATOS_EXT_AUTHZ_CONFIG; without one, every key takes its default.

With no command it serves. SIGHUP re-reads the config file; --watch-config also does when the
file is replaced whole (renamed over, or a Kubernetes ConfigMap update), but not when it is
written in place (it may be half-written: send SIGHUP once it is complete). A config that fails
validation, or a file with no settings, is rejected as a whole and the running one stays.

commands:
${SUBCOMMAND_SUMMARY}

${EXIT_CODES}`;
}

function parseArguments(argv: string[]): ServeArguments {
  let configPath = process.env.KRATOS_EXT_AUTHZ_CONFIG || undefined;
  let watch = false;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (argument === '--help' || argument === '-h') {
      process.stdout.write(`${usage()}\n`);
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
  if (watch && configPath === undefined)
    fail('--watch-config needs a config file (--config or KRATOS_EXT_AUTHZ_CONFIG)');
  return { configPath, watch };
}

function fail(message: string): never {
  process.stderr.write(`kratos-ext-authz: ${message}\n${usage()}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (!isMainThread) {
    const serving = require('./serve') as typeof import('./serve');
    const options = parseArguments(argv);
    return isHeapSizingWorker()
      ? reportHeapSizing(serving.sizeHeap(options.configPath))
      : serving.serve(options, 'thread');
  }
  // Forked by the cluster's primary (server.workers > 1), with the same arguments.
  if (cluster.isWorker) {
    const serving = require('./serve') as typeof import('./serve');
    return serving.serve(parseArguments(argv), 'cluster-worker');
  }
  // Serving takes only options: anything else first is a command's name (or a mistake the command line reports).
  if (argv[0] !== undefined && !argv[0].startsWith('-')) {
    const { runSubcommand } = require('./cli/commands') as typeof import('./cli/commands');
    const exitCode = await runSubcommand(argv);
    // Let stdout drain before exiting: a test report piped to a file must arrive whole.
    if (exitCode !== undefined) return void (process.exitCode = exitCode);
  }
  parseArguments(argv);
  return serveInHeapSizedWorker(__filename, argv);
}

main().catch((error: unknown) => {
  // A worker's stderr reaches the process's asynchronously and may be cut by process.exit: the
  // error ends the worker instead, and the main thread reports it (heap-sized-worker.ts).
  if (!isMainThread) throw error;
  process.stderr.write(`kratos-ext-authz: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
