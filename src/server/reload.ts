import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../observability/logger';
import { ConfigError, loadReloadedConfig } from '../config/load';
import type { Config } from '../config/schema';

/** Settings bound once at start-up: a reload reports them and leaves them as they are. */
const RESTART_ONLY: ReadonlyArray<{
  key: string;
  read: (config: Config) => unknown;
  keep: (next: Config, running: Config) => Config;
}> = [
  {
    key: 'server.grpc_address',
    read: (c) => c.server.grpc_address,
    keep: (next, running) => ({ ...next, server: { ...next.server, grpc_address: running.server.grpc_address } }),
  },
  {
    key: 'server.http_address',
    read: (c) => c.server.http_address,
    keep: (next, running) => ({ ...next, server: { ...next.server, http_address: running.server.http_address } }),
  },
  {
    key: 'server.http_authz_address',
    read: (c) => c.server.http_authz_address,
    keep: (next, running) => ({
      ...next,
      server: { ...next.server, http_authz_address: running.server.http_authz_address },
    }),
  },
  {
    key: 'server.workers',
    read: (c) => c.server.workers,
    keep: (next, running) => ({ ...next, server: { ...next.server, workers: running.server.workers } }),
  },
  {
    key: 'http_authz.request_timeout',
    read: (c) => c.http_authz.request_timeout,
    keep: (next, running) => ({
      ...next,
      http_authz: { ...next.http_authz, request_timeout: running.http_authz.request_timeout },
    }),
  },
  {
    key: 'log.pretty',
    read: (c) => c.log.pretty,
    keep: (next, running) => ({ ...next, log: { ...next.log, pretty: running.log.pretty } }),
  },
  {
    key: 'tracing',
    read: (c) => JSON.stringify(c.tracing),
    keep: (next, running) => ({ ...next, tracing: running.tracing }),
  },
];

export type ReloadTrigger = 'SIGHUP' | 'watch';

/**
 * Re-reads the configuration file and, when it is valid as a whole, hands it to the running
 * service in one step; when not, the running configuration stays and every problem is logged.
 * Validation is loadConfig's, so a reload accepts exactly what start-up accepts, except a file
 * with no settings at all (see loadReloadedConfig).
 */
export class ConfigReloader {
  private readonly reloads: Counter<'result'>;

  constructor(
    private readonly path: string | undefined,
    private running: Config,
    private readonly apply: (config: Config) => void,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.reloads = new Counter({
      name: 'kratos_ext_authz_config_reloads_total',
      help: 'Configuration reloads (SIGHUP or --watch-config), by result: applied or rejected.',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    // Both series exist from the start, so an alert on rejected sees its first increase.
    this.reloads.inc({ result: 'applied' }, 0);
    this.reloads.inc({ result: 'rejected' }, 0);
  }

  reload(trigger: ReloadTrigger): void {
    let loaded: Config;
    try {
      loaded = loadReloadedConfig(this.path);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.reject(trigger, error.problems);
      return;
    }
    const waiting = RESTART_ONLY.filter((setting) => setting.read(loaded) !== setting.read(this.running));
    const next = waiting.reduce((config, setting) => setting.keep(config, this.running), loaded);
    const changed = changedSections(this.running, next);
    try {
      // Builds everything before publishing it: a throw here leaves the running configuration in place.
      this.apply(next);
    } catch (error) {
      // A ConfigError here is a file the configuration names (upstream_jwt.keys) that cannot be used.
      this.reject(
        trigger,
        error instanceof ConfigError
          ? error.problems
          : [`could not be applied: ${error instanceof Error ? error.message : String(error)}`],
      );
      return;
    }
    for (const setting of waiting) {
      const running = setting.read(this.running);
      this.logger.warn(
        { trigger, key: setting.key, running, configured: setting.read(loaded) },
        `${setting.key} needs a restart: keeping ${String(running)} until then`,
      );
    }
    const needsRestart = waiting.map((setting) => setting.key);
    this.running = next;
    this.reloads.inc({ result: 'applied' });
    this.logger.info(
      { trigger, changed, needs_restart: needsRestart },
      changed.length > 0 ? 'configuration reloaded' : 'configuration reloaded: nothing changed',
    );
  }

  /**
   * --watch-config saw the file written in place: reported like an invalid file (an alert on
   * rejected reloads sees that the file is not what runs) and left for a replacement or SIGHUP.
   */
  refuseWrittenInPlace(path: string): void {
    this.reject('watch', [
      `${path} was written in place, so it may have been read half-written: not applied. Replace it whole (write another file, then rename it over this one, as Kubernetes does), or send SIGHUP once it is complete`,
    ]);
  }

  private reject(trigger: ReloadTrigger, problems: readonly string[]): void {
    this.reloads.inc({ result: 'rejected' });
    for (const problem of problems)
      this.logger.error(
        { trigger, problem },
        `configuration reload rejected, keeping the running configuration: ${problem}`,
      );
  }
}

function changedSections(before: Config, after: Config): string[] {
  return (Object.keys(after) as Array<keyof Config>).filter(
    (section) => JSON.stringify(before[section]) !== JSON.stringify(after[section]),
  );
}
