import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { loadSigningKeys } from '../upstream/signing-key';

/** A command line the command cannot run with: reported with its usage, exit 2. */
export class UsageError extends Error {}

/** node:util parseArgs, strict, with its complaints turned into usage errors. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The option every command reading the configuration takes; it falls back to
 * KRATOS_EXT_AUTHZ_CONFIG like serving does.
 */
export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;

/** Loads and validates exactly as start-up does; a ConfigError propagates (exit 2, same message). */
export function configFromCommandLine(path: string | undefined): Config {
  const config = loadConfig(path ?? (process.env.KRATOS_EXT_AUTHZ_CONFIG || undefined));
  // Start-up reads the key files too (serve.ts): a config that names a bad one does not start.
  loadSigningKeys(config.upstream_jwt?.keys ?? []);
  return config;
}
