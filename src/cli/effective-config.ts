import type { Config } from '../config/schema';

const REDACTED = '<redacted>';

// The keys parsed from duration strings: shown as durations again so the output loads as a config.
const DURATION_KEYS: ReadonlyArray<
  readonly [section: 'server' | 'kratos' | 'cache' | 'http_authz' | 'upstream_jwt', key: string]
> = [
  ['server', 'shutdown_timeout'],
  ['server', 'drain_delay'],
  ['kratos', 'timeout'],
  ['http_authz', 'request_timeout'],
  ['cache', 'ttl'],
  ['cache', 'negative_ttl'],
  ['cache', 'identity_ttl'],
  ['cache', 'stale_if_error'],
  ['upstream_jwt', 'ttl'],
];

/**
 * The configuration as the service runs it, every default filled in, written back in the file's
 * own vocabulary (durations as `150ms`, `10s`, `1m`) so it loads again to the same thing.
 * kratos.admin_token is redacted; the Kratos URLs hold no credentials (validation refuses them).
 */
export function effectiveConfig(config: Config): Record<string, Record<string, unknown>> {
  const shown: Record<string, Record<string, unknown>> = JSON.parse(JSON.stringify(config));
  for (const [section, key] of DURATION_KEYS) {
    const value = shown[section]?.[key];
    if (typeof value === 'number' && shown[section]) shown[section][key] = formatDuration(value);
  }
  showMaxAges(shown.policy);
  const kratos = shown.kratos ?? {};
  if (kratos.admin_token) kratos.admin_token = REDACTED;
  return shown;
}

/** policy.cookie/token and each rule's, where written in the long form with a max_age. */
function showMaxAges(policy: Record<string, unknown> | undefined): void {
  if (!policy) return;
  const holders = [policy, ...(Array.isArray(policy.rules) ? (policy.rules as unknown[]) : [])];
  for (const holder of holders) {
    if (!isRecord(holder)) continue;
    for (const kind of ['cookie', 'token']) {
      const requirement = holder[kind];
      if (isRecord(requirement) && typeof requirement.max_age === 'number')
        requirement.max_age = formatDuration(requirement.max_age);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
