import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, describeIssue, readYamlFile } from '../config/load';
import { durationSchema } from '../config/schema';
import type { Outcome } from './trace';

const OUTCOMES: readonly Outcome[] = [
  'allow',
  'redirect_login',
  'redirect_step_up',
  'redirect_refresh',
  '401',
  '403',
  '403_aal',
  '403_refresh',
  '503',
  '400',
  '500',
];

// YAML reads `expect: 401` as a number.
const outcome = z
  .union([z.string(), z.number()])
  .transform((value) => String(value))
  .refine((text) => (OUTCOMES as readonly string[]).includes(text), `must be one of ${OUTCOMES.join(', ')}`)
  .transform((text) => text as Outcome);

const aal = z.enum(['aal0', 'aal1', 'aal2']);

const headers = z.union([
  z.record(z.string(), z.union([z.string(), z.number()]).transform(String)),
  z.array(z.string().regex(/^[^:]+:/, 'must be a "name: value" header line')),
]);

/** What whoami would say about the request's credential; `none` (the default) is a 401. */
const session = z.union([
  z.literal('none'),
  z
    .object({
      aal,
      /** The identity's highest available AAL, as the admin API tells it. */
      available_aal: z.enum(['aal1', 'aal2']).default('aal1'),
      identity_id: z.string().min(1).default('policy-test-identity'),
      session_id: z.string().min(1).default('policy-test-session'),
      active: z.boolean().default(true),
      /** Default: an hour from now. */
      expires_at: z.string().optional(),
      /** How long ago the session last authenticated, a duration such as `10m`. Default: just now. */
      authenticated_ago: z.string().default('0s').pipe(durationSchema),
    })
    .strict(),
]);

const testCase = z
  .object({
    name: z.string().min(1),
    request: z
      .object({
        method: z.string().default('GET'),
        url: z.string(),
        headers: headers.default({}),
        /** A stand-in credential, so a case need not spell out a cookie or token. */
        credential: z.enum(['cookie', 'token', 'bearer']).optional(),
        context_extensions: z.record(z.string(), z.string()).default({}),
      })
      .strict(),
    session: session.default('none'),
    kratos: z.enum(['up', 'down', 'admin_down']).default('up'),
    expect: outcome,
    /** The rule that must have applied: its name, `rules[i]`, or `default`. */
    rule: z.string().optional(),
    /** The x-kratos-* headers set upstream, or `none`: an allowed request without identity headers. */
    identity_headers: z.union([z.literal('none'), z.record(z.string(), z.string())]).optional(),
  })
  .strict();

const testsFile = z
  .object({
    /** The config the cases run against, relative to the tests file; --config overrides it. */
    config: z.string().optional(),
    tests: z.array(testCase).min(1),
  })
  .strict();

export type PolicyTestCase = z.output<typeof testCase>;
export interface PolicyTests {
  /** Resolved against the tests file's directory. */
  configPath: string | undefined;
  tests: PolicyTestCase[];
}

/** Reads and validates a tests file; a ConfigError lists every problem, one a line, naming its key. */
export function loadPolicyTests(path: string): PolicyTests {
  const result = testsFile.safeParse(readYamlFile(path));
  if (!result.success)
    throw new ConfigError(result.error.issues.flatMap(describeIssue).map((problem) => `${path}: ${problem}`));
  const { config, tests } = result.data;
  return { configPath: config === undefined ? undefined : resolve(dirname(path), config), tests };
}
