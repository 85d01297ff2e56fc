import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** Formats a zod path the way the README names keys: `policy.rules[2].paths[0]`. */
function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)),
    '',
  );
}

/** One problem line per zod issue, naming the key; also used for files other than the config. */
export function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${keyPath([...issue.path, key])}: unknown key`);
  }
  // A record key refused by its own schema (identity_headers, upstream_jwt.claims): say why.
  if (issue.code === 'invalid_key') return issue.issues.map((inner) => `${keyPath(issue.path)}: ${inner.message}`);
  return [`${keyPath(issue.path) || '(root)'}: ${issue.message}`];
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `${NAME}` in every string with the environment variable, so secrets stay out of files. */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, problems: string[], path: PropertyKey[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (_, name: string) => {
      const found = env[name];
      if (found === undefined) problems.push(`${keyPath(path)}: environment variable ${name} is not set`);
      return found ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => substituteEnv(item, env, problems, [...path, index]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, problems, [...path, key])]),
    );
  }
  return value;
}

/** Validates an already-parsed document (an empty file or no file at all is `undefined`). */
export function parseConfig(document: unknown, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const substituted = substituteEnv(document ?? {}, env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const result = configSchema.safeParse(substituted);
  if (!result.success) throw new ConfigError(result.error.issues.flatMap(describeIssue));
  return result.data;
}

export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  if (path === undefined) return parseConfig(undefined, env);
  return parseConfig(readYamlFile(path), env);
}

/**
 * loadConfig for a reload, which refuses a file with no settings (empty, only whitespace or
 * comments): at start-up that means every default, but on a running service it is a file
 * caught truncated or not yet written, and the defaults would drop every deny rule and trusted
 * proxy. `{}` still says "every default" on purpose.
 */
export function loadReloadedConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  if (path === undefined) return parseConfig(undefined, env);
  const document = readYamlFile(path);
  if (document === null || document === undefined) {
    throw new ConfigError([
      `${path}: is empty (no settings, only whitespace or comments): a reload never replaces the running configuration with the defaults; write {} for every default`,
    ]);
  }
  return parseConfig(document, env);
}

/** A YAML file as plain data; a ConfigError with one line per problem when it cannot be read or parsed. */
export function readYamlFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(document.errors.map((error) => `${path}: ${error.message.split('\n')[0]}`));
  }
  return document.toJS();
}
