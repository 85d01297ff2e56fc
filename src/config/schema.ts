import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseCidr } from './cidr';
import { durationProblem, parseDuration } from './duration';
import { claimNameProblem, identityHeaderNameProblem } from './identity-names';

// Every key has a default so the service starts with no file at all; `.strict()` everywhere so
// a misspelt key stops start-up instead of being silently ignored.

/**
 * A duration string, as whole milliseconds no longer than any timer runs. Checked by a refinement
 * before the transform, so inside a union (the credential requirement, the policy tests' session)
 * the problem is still reported at its own key. The one check: check-config, start-up and reload
 * all refuse what the service could not run with.
 */
export const durationSchema = z
  .string()
  .superRefine((text, ctx) => {
    const problem = durationProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((text) => parseDuration(text) ?? 0);

const duration = (fallback: string) => z.string().default(fallback).pipe(durationSchema);

/**
 * Kratos answers whoami in milliseconds at best (a database read); below this floor every call
 * times out, and every check is a 503 (as 0.5ms was).
 */
const MIN_KRATOS_TIMEOUT_MS = 10;

/**
 * Far beyond any deployment (100000 sessions take about 190 MiB); larger values preallocate
 * cache arrays and a heap limit the process cannot have (50 million took 8 GB before serving).
 */
const MAX_CACHE_ENTRIES = 10_000_000;

const address = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine(
      (text) =>
        /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(text) &&
        Number(text.slice(text.lastIndexOf(':') + 1)) <= 65_535,
      'must be host:port (port 0 to 65535), e.g. 0.0.0.0:9191',
    );

/** Each worker is a whole process (its own heap, caches and Kratos connections): past this, memory, not CPU, is the limit. */
const MAX_WORKERS = 64;

/**
 * How many processes serve: 1 is one process; more are node:cluster workers behind a primary
 * (src/server/cluster-primary.ts). "auto" is one a CPU this process may run on, as Node counts
 * them (os.availableParallelism()).
 */
const WORKERS_PROBLEM = `must be a whole number from 1 to ${MAX_WORKERS}, or "auto" (one per CPU this process may use)`;
const workersSetting = z
  .union(
    [z.literal('auto'), z.number().int(WORKERS_PROBLEM).min(1, WORKERS_PROBLEM).max(MAX_WORKERS, WORKERS_PROBLEM)],
    { error: WORKERS_PROBLEM },
  )
  .default(1)
  .transform((workers) => (workers === 'auto' ? Math.min(availableParallelism(), MAX_WORKERS) : workers));

/** Loopback and the private ranges: where a proxy in front of this service normally runs. */
export const DEFAULT_TRUSTED_PROXIES = [
  '127.0.0.0/8',
  '::1/128',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  'fc00::/7',
];

const cidr = z
  .string()
  .refine(
    (text) => parseCidr(text) !== undefined,
    'must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8 or fc00::/7',
  );

/**
 * An absolute http(s) URL without query or fragment, its trailing `/` dropped; `""` too where
 * `blank` says "not set". Credentials are refused rather than redacted: the browser URL
 * (public_url when browser_url is unset) goes into every login redirect, every URL into logs and
 * check-config, and no Kratos call sends them (the pools connect to the origin; the admin API
 * takes kratos.admin_token). Any `@` before the path counts, so no `user:p@ss@host` splits it.
 */
const httpUrlOr = (blank: 'blank allowed' | 'required') =>
  z
    .string()
    .refine(
      (text) => (blank === 'blank allowed' && text === '') || /^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(text),
      'must be an absolute http(s) URL without query or fragment',
    )
    .refine(
      (text) => !/^https?:\/\/[^/?#]*@/.test(text),
      'must not contain credentials (user:password@): browsers would get them in login redirects and logs would show them; Kratos calls never send them (the admin API takes kratos.admin_token)',
    )
    .transform((text) => text.replace(/\/+$/, ''));

/** `""` means "not set" for optional URLs and secrets, so a YAML file can blank a default. */
const optionalHttpUrl = (fallback: string) => z.string().default(fallback).pipe(httpUrlOr('blank allowed'));

const requirementSchema = z.enum(['aal1', 'aal2', 'highest_available']);

/**
 * What one credential kind must meet: the short form is an AAL alone (the form every existing
 * config uses); the long form adds `max_age`, the longest time since the session's last
 * authentication (Kratos's authenticated_at) a request may come.
 */
const credentialRequirementSchema = z.union(
  [
    requirementSchema,
    z
      .object({
        aal: requirementSchema,
        max_age: durationSchema.refine((ms) => ms > 0, 'must be greater than 0').optional(),
      })
      .strict(),
  ],
  { error: 'must be aal1, aal2 or highest_available, or {aal: <one of them>, max_age: <duration>}' },
);

const hostPattern = z
  .string()
  .transform((text) => text.toLowerCase())
  .refine(
    (text) => /^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/.test(text),
    'must be a host name, optionally starting with "*." (e.g. app.example.com, *.example.com)',
  );

/**
 * A rule's host has no port: the port in Host/`:authority` is whatever the client wrote (nginx
 * serves `admin.example.com`, `:38443` and `:1` from one server block), so a rule keyed on it
 * would hand a weaker rule to anyone who spells the port differently. return_to.allowed_hosts
 * keeps ports: there a port only narrows which return_to is sent.
 */
const ruleHostPattern = hostPattern.refine(
  (text) => !text.includes(':'),
  "must not have a port: the client chooses the port it writes in Host, so it cannot choose a rule; match the host name alone, or route ports to different rules with Envoy's per-route context_extensions.policy",
);

const pathPattern = z
  .string()
  .refine((text) => text.startsWith('/'), 'must start with "/"')
  .refine((text) => !text.slice(0, -1).includes('*'), '"*" is only allowed as the last character (prefix match)')
  .refine(
    (text) => !/(^|\/)\.\.?(\/|\*?$)/.test(text) && !text.includes('?'),
    'must be a normalised path without "." or ".." segments or a query',
  );

const method = z
  .string()
  .transform((text) => text.toUpperCase())
  .refine((text) => /^[A-Z]+$/.test(text), 'must be an HTTP method such as GET');

const ruleSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'may contain letters, digits, "_", "-" and "." only')
      .refine(
        (name) => name !== 'default',
        '"default" is reserved for the policy made of policy.cookie and policy.token',
      )
      .optional(),
    hosts: z.array(ruleHostPattern).min(1).optional(),
    paths: z.array(pathPattern).min(1).optional(),
    methods: z.array(method).min(1).optional(),
    /** Without it, a rule listing GET covers HEAD too (every common framework serves HEAD with the GET handler). */
    exact_methods: z.boolean().optional(),
    cookie: credentialRequirementSchema.optional(),
    token: credentialRequirementSchema.optional(),
    anonymous: z.boolean().optional(),
    deny: z.boolean().optional(),
    /** Overrides policy.strip_credentials on this rule's allows. */
    strip_credentials: z.boolean().optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.anonymous && rule.deny)
      ctx.addIssue({ code: 'custom', message: 'a rule cannot be both anonymous and deny' });
    if (rule.deny && rule.strip_credentials !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['strip_credentials'],
        message: 'does not apply to a deny rule (nothing reaches the upstream)',
      });
    }
    if (rule.exact_methods !== undefined && !rule.methods)
      ctx.addIssue({ code: 'custom', path: ['exact_methods'], message: 'only applies to a rule with methods' });
    if ((rule.anonymous || rule.deny) && (rule.cookie || rule.token)) {
      ctx.addIssue({ code: 'custom', message: 'cookie/token requirements do not apply to an anonymous or deny rule' });
    }
  });

/** `traits.` and then the keys of nested objects; read from own properties only. */
const traitPath = z
  .string()
  .refine(
    (text) => /^traits(\.[A-Za-z0-9_$-]+)+$/.test(text),
    "must be a dot path into the identity's traits, e.g. traits.email or traits.name.first",
  );

/** A name refused with its reason, e.g. `"cookie" is a header that defines the request itself`. */
const nameSchema = (problemOf: (name: string) => string | undefined) =>
  z.string().superRefine((name, ctx) => {
    const problem = problemOf(name);
    if (problem) ctx.addIssue({ code: 'custom', message: `"${name}" ${problem}` });
  });

const AUDIENCE_PROBLEM = 'must be a non-empty string or list of strings (the aud claim)';

const upstreamJwtSchema = z
  .object({
    header: z
      .string()
      .default('x-kratos-jwt')
      .pipe(nameSchema((name) => identityHeaderNameProblem(name, 'jwt'))),
    issuer: z.string().min(1, 'must be set (the iss claim)'),
    audience: z
      .union([z.string(), z.array(z.string())], { error: AUDIENCE_PROBLEM })
      .refine(
        (audience) =>
          typeof audience === 'string' ? audience !== '' : audience.length > 0 && audience.every((item) => item !== ''),
        AUDIENCE_PROBLEM,
      ),
    ttl: duration('5m').refine((ms) => ms >= 1000, 'must be at least 1s'),
    /** PEM private key files: read and checked by upstream/signing-key.ts, not here (see loadSigningKeys). */
    keys: z
      .array(z.string().min(1, 'must be a file name'))
      .min(1, 'must list at least one PEM private key file (the first signs)'),
    claims: z.record(nameSchema(claimNameProblem), traitPath).default({}),
  })
  .strict();

/**
 * kratos.version: the Kratos release the service talks to, for its code-MFA rule
 * (src/kratos/code-mfa-rule.ts). Used when {admin_url}/admin/version does not answer; "" = ask
 * the admin API only (and apply the stricter rule until it answers).
 */
const kratosVersionSetting = z
  .string()
  .regex(
    /^$|^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/,
    'must be a Kratos release version such as v26.2.0, or "" to ask the admin API',
  )
  .default('');

export const configSchema = z
  .object({
    server: z
      .object({
        grpc_address: address('0.0.0.0:9191'),
        http_address: address('0.0.0.0:9192'),
        /** The HTTP authorization front doors (src/http/); "" turns the listener off. */
        http_authz_address: z.union([z.literal(''), address('0.0.0.0:9193')]).default('0.0.0.0:9193'),
        shutdown_timeout: duration('10s'),
        drain_delay: duration('0s'),
        workers: workersSetting,
      })
      .strict()
      .prefault({}),
    kratos: z
      .object({
        public_url: z.string().default('http://127.0.0.1:4433').pipe(httpUrlOr('required')),
        admin_url: optionalHttpUrl('http://127.0.0.1:4434'),
        browser_url: optionalHttpUrl(''),
        admin_token: z.string().default(''),
        session_cookie: z
          .string()
          .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a valid cookie name')
          .default('ory_kratos_session'),
        timeout: duration('150ms').refine(
          (ms) => ms >= MIN_KRATOS_TIMEOUT_MS,
          `must be at least ${MIN_KRATOS_TIMEOUT_MS}ms: no Kratos answers sooner, and every check would be a 503`,
        ),
        code_mfa_enabled: z.boolean().default(false),
        version: kratosVersionSetting,
        whoami_enforces_highest_available: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    policy: z
      .object({
        cookie: credentialRequirementSchema.default('highest_available'),
        token: credentialRequirementSchema.default('aal1'),
        cors_preflight: z.boolean().default(false),
        case_sensitive_paths: z.boolean().default(false),
        /** Allows take the Kratos credential out of the upstream request (see README, Credentials upstream). */
        strip_credentials: z.boolean().default(true),
        rules: z.array(ruleSchema).default([]),
      })
      .strict()
      .prefault({}),
    http_authz: z
      .object({
        trusted_proxies: z.array(cidr).default(DEFAULT_TRUSTED_PROXIES),
        /** Headers and body of one authorization request must arrive within this (slow clients). */
        request_timeout: duration('10s').refine((ms) => ms >= 100, 'must be at least 100ms'),
      })
      .strict()
      .prefault({}),
    return_to: z
      .object({ allowed_hosts: z.array(hostPattern).default([]) })
      .strict()
      .prefault({}),
    cache: z
      .object({
        ttl: duration('10s'),
        negative_ttl: duration('1s'),
        identity_ttl: duration('60s'),
        max_entries: z
          .number()
          .int()
          .min(0)
          .max(
            MAX_CACHE_ENTRIES,
            `must be at most ${MAX_CACHE_ENTRIES}: the heap is sized for a full cache (about 6.4 GiB at this size)`,
          )
          .default(100_000),
        stale_if_error: duration('0s'),
      })
      .strict()
      .prefault({}),
    /** Header name → trait path: set from the session's identity traits on every allow with a session. */
    identity_headers: z
      .record(
        nameSchema((name) => identityHeaderNameProblem(name, 'trait')),
        traitPath,
      )
      .default({}),
    /** Absent: no JWT is signed, and /.well-known/jwks.json answers 404. */
    upstream_jwt: upstreamJwtSchema.optional(),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        pretty: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /**
     * OpenTelemetry spans over OTLP/HTTP (protobuf). Off: no span, no context read. On: each
     * setting left blank here is read from its standard OTEL_* variable; one set here wins.
     */
    tracing: z
      .object({
        enabled: z.boolean().default(false),
        /** The OTLP/HTTP base URL (`/v1/traces` is appended), as OTEL_EXPORTER_OTLP_ENDPOINT. */
        endpoint: optionalHttpUrl(''),
        /** service.name, as OTEL_SERVICE_NAME; both blank: `kratos-ext-authz`. */
        service_name: z.string().max(200).default(''),
        /**
         * Share of traces started here (no sampled parent to follow) that are kept; a caller's
         * decision is always followed. Unset: OTEL_TRACES_SAMPLER(_ARG), else parent-based always-on.
         */
        sampling_ratio: z.number().min(0).max(1).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.policy.rules.forEach((rule, index) => {
      if (rule.name === undefined) return;
      const first = seen.get(rule.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['policy', 'rules', index, 'name'],
          message: `duplicate rule name (also policy.rules[${first}])`,
        });
      }
      seen.set(rule.name, index);
    });
    checkIdentityNames(config, ctx);
    const requirements = [
      config.policy.cookie,
      config.policy.token,
      ...config.policy.rules.flatMap((r) => [r.cookie, r.token]),
    ];
    const usesHighestAvailable = requirements.some(
      (requirement) => requirement !== undefined && aalOf(requirement) === 'highest_available',
    );
    if (usesHighestAvailable && config.kratos.admin_url === '' && !config.kratos.whoami_enforces_highest_available) {
      ctx.addIssue({
        code: 'custom',
        path: ['kratos', 'admin_url'],
        message:
          "highest_available needs the Kratos admin API to learn the identity's available AAL: set kratos.admin_url, or set kratos.whoami_enforces_highest_available: true if whoami itself runs required_aal: highest_available",
      });
    }
  });

/** What no single name shows: the JWT header reused as a trait header. */
function checkIdentityNames(
  config: { identity_headers: Record<string, string>; upstream_jwt?: z.output<typeof upstreamJwtSchema> | undefined },
  ctx: z.RefinementCtx,
): void {
  const jwt = config.upstream_jwt;
  if (jwt && Object.hasOwn(config.identity_headers, jwt.header)) {
    ctx.addIssue({
      code: 'custom',
      path: ['identity_headers', jwt.header],
      message: `"${jwt.header}" is upstream_jwt.header`,
    });
  }
}

/** Every trait path identity_headers and upstream_jwt.claims read, each once. */
export function traitPathsOf(config: Pick<Config, 'identity_headers' | 'upstream_jwt'>): string[] {
  return [...new Set([...Object.values(config.identity_headers), ...Object.values(config.upstream_jwt?.claims ?? {})])];
}

export type Config = z.output<typeof configSchema>;
export type Requirement = z.output<typeof requirementSchema>;
/** A credential requirement as written: the short form (an AAL) or `{aal, max_age}` (milliseconds). */
export type CredentialRequirementConfig = z.output<typeof credentialRequirementSchema>;

export function aalOf(requirement: CredentialRequirementConfig): Requirement {
  return typeof requirement === 'string' ? requirement : requirement.aal;
}
export type RuleConfig = Config['policy']['rules'][number];
