import type { Config } from '../config/schema';
import {
  describeReading,
  readingOf,
  STRICTER_CODE_MFA_RULE,
  unknownVersion,
  type CodeMfaRule,
  type KratosVersionReading,
} from './code-mfa-rule';
import { JsonGet } from './json-get';

type VersionSettings = Pick<Config['kratos'], 'admin_url' | 'admin_token' | 'version'>;

export interface VersionTiming {
  /** One GET {admin}/admin/version may take this long. */
  timeoutMs: number;
  /** Until the admin API has answered, it is asked again this often. */
  retryMs: number;
  /** Once it has, this often: a Kratos upgraded (or rolled back) under a running service is noticed. */
  refreshMs: number;
}

export const VERSION_TIMING: VersionTiming = { timeoutMs: 1_000, retryMs: 10_000, refreshMs: 300_000 };

/**
 * The Kratos version, from `GET {admin_url}/admin/version` (`{"version":"v26.2.0"}`); when that
 * gives no release version (unreachable, or a source build's "master"), kratos.version; else
 * unknown, with the stricter rule. Never throws.
 */
export async function readKratosVersion(
  settings: VersionSettings,
  adminApi: JsonGet | undefined,
  timeoutMs: number,
): Promise<KratosVersionReading> {
  const asked = adminApi
    ? await askAdminApi(adminApi, settings.admin_token, timeoutMs)
    : { failure: 'kratos.admin_url is not set' };
  const reported = 'version' in asked ? readingOf(asked.version, 'admin_api') : unknownVersion(asked.failure);
  if (reported.known) return reported;
  return settings.version === ''
    ? unknownVersion(`${reported.why}, and kratos.version is not set`)
    : readingOf(settings.version, 'config');
}

/** What start-up will do, told without asking Kratos (check-config, explain without --kratos). */
export function plannedReadingText(settings: VersionSettings, codeMfaEnabled: boolean): string {
  if (settings.admin_url === '') {
    const reading =
      settings.version === ''
        ? unknownVersion('kratos.admin_url is not set, and kratos.version is not set')
        : readingOf(settings.version, 'config');
    return describeReading(reading, codeMfaEnabled);
  }
  const configured = settings.version === '' ? undefined : readingOf(settings.version, 'config');
  const meanwhile = configured
    ? `kratos.version ${settings.version}, rule ${configured.rule},`
    : `the stricter rule ${STRICTER_CODE_MFA_RULE}`;
  const applied = codeMfaEnabled ? '' : ' (not applied: kratos.code_mfa_enabled is false)';
  return `the rule follows the Kratos version read from {kratos.admin_url}/admin/version at start; ${meanwhile} while it does not answer${applied}`;
}

async function askAdminApi(
  adminApi: JsonGet,
  adminToken: string,
  timeoutMs: number,
): Promise<{ version: string } | { failure: string }> {
  const headers: Record<string, string> = adminToken ? { authorization: `Bearer ${adminToken}` } : {};
  const answer = await adminApi.get('/admin/version', headers, timeoutMs);
  if ('failure' in answer) return { failure: `/admin/version failed: ${answer.failure}` };
  if (answer.status !== 200) return { failure: `/admin/version answered ${answer.status}` };
  const version: unknown =
    typeof answer.body === 'object' && answer.body !== null
      ? (answer.body as Record<string, unknown>).version
      : undefined;
  return typeof version === 'string' ? { version } : { failure: '/admin/version answered no version' };
}

/**
 * Keeps the Kratos version and its code-MFA rule current: read once at start (awaited, so the
 * start-up log can name the rule), then again in the background. `onChange` hears the first
 * reading and every later one whose version or rule differs.
 */
export class KratosVersionWatch {
  private reading: KratosVersionReading = unknownVersion('not read yet');
  private readonly adminApi: JsonGet | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly settings: VersionSettings,
    private readonly onChange: (reading: KratosVersionReading) => void,
    private readonly timing: VersionTiming = VERSION_TIMING,
  ) {
    this.adminApi = settings.admin_url ? new JsonGet(settings.admin_url) : undefined;
  }

  rule(): CodeMfaRule {
    return this.reading.rule;
  }

  current(): KratosVersionReading {
    return this.reading;
  }

  async start(): Promise<void> {
    await this.read(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.adminApi?.close();
  }

  private async read(first: boolean): Promise<void> {
    const reading = await readKratosVersion(this.settings, this.adminApi, this.timing.timeoutMs);
    if (this.stopped) return;
    const changed = first || summary(reading) !== summary(this.reading);
    this.reading = reading;
    if (changed) this.onChange(reading);
    if (!this.adminApi) return;
    const fromAdminApi = reading.known && reading.source === 'admin_api';
    this.timer = setTimeout(() => void this.read(false), fromAdminApi ? this.timing.refreshMs : this.timing.retryMs);
    this.timer.unref();
  }
}

function summary(reading: KratosVersionReading): string {
  return reading.known ? `${reading.version} ${reading.source} ${reading.rule}` : `unknown ${reading.rule}`;
}
