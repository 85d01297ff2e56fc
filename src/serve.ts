/**
 * The service's life in its worker thread, or in one of the cluster's worker processes when
 * server.workers > 1 (main.ts starts it): configuration, servers, reload on SIGHUP or file
 * change, graceful drain on SIGTERM/SIGINT. Also the heap-sizing worker's one job, reading the
 * configuration for its cache size and the number of workers.
 */
import { ConfigError, loadConfig } from './config/load';
import { ConfigReloader } from './server/reload';
import { watchConfigFile } from './server/watch';
import type { Config } from './config/schema';
import { createLogger, type Logger } from './observability/logger';
import { answerPrimary, onPrimarySignal } from './server/cluster-worker';
import { heapLimitMiB } from './server/heap-limit';
import { onServiceSignal, type HeapSizing } from './server/heap-sized-worker';
import { startClusterWorkerService, startService, type ServiceDoors } from './server/service';
import type { ServiceSignal } from './server/service-signals';
import { loadSigningKeys } from './upstream/signing-key';

export interface ServeArguments {
  configPath: string | undefined;
  watch: boolean;
}

/** The heap limit for this configuration, or the problem that stops start-up (reported by the main thread). */
export function sizeHeap(configPath: string | undefined): HeapSizing {
  try {
    const config = loadConfig(configPath);
    // The key files are read where a signer is built, but a bad one stops start-up here, reported as a config problem.
    loadSigningKeys(config.upstream_jwt?.keys ?? []);
    return {
      heapLimitMiB: heapLimitMiB(config.cache.max_entries),
      workers: config.server.workers,
      opsAddress: config.server.http_address,
      log: config.log,
    };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { configProblem: error.message };
  }
}

/** Where the service runs: main.ts's worker thread (the whole service), or a cluster worker process (its doors). */
export type ServicePlace = 'thread' | 'cluster-worker';

interface Placement {
  onSignal(handler: (signal: ServiceSignal) => void): void;
  logger(log: Config['log']): Logger;
  start(config: Config, logger: Logger): Promise<ServiceDoors>;
  /** Once the service runs and reloads (SIGHUP, the file watch) reach it. */
  settled(service: ServiceDoors): void;
}

const PLACEMENTS: Record<ServicePlace, Placement> = {
  thread: {
    onSignal: onServiceSignal,
    logger: (log) => createLogger(log),
    start: startService,
    settled: () => undefined,
  },
  'cluster-worker': {
    onSignal: onPrimarySignal,
    // Which worker wrote a line, since they all write to the primary's stdout.
    logger: (log) => createLogger(log).child({ pid: process.pid }),
    start: startClusterWorkerService,
    // Only now: a file replaced after the primary says "serving" must reach every worker's watch.
    settled: answerPrimary,
  },
};

export async function serve({ configPath, watch }: ServeArguments, place: ServicePlace): Promise<void> {
  const placement = PLACEMENTS[place];
  // Until the service runs there is nothing to drain or reload: a stop exits at once, a reload is noted only.
  let onSignal = (signal: ServiceSignal): void => {
    if (signal !== 'SIGHUP') process.exit(1);
    process.stderr.write('kratos-ext-authz: SIGHUP before serving: ignored\n');
  };
  placement.onSignal((signal) => onSignal(signal));
  // The sizing worker validated this file a moment ago; should it have changed since, the
  // ConfigError ends this worker and the main thread reports it.
  const config = loadConfig(configPath);
  const logger = placement.logger(config.log);
  const service = await placement.start(config, logger);
  const reloader = new ConfigReloader(configPath, config, service.reconfigure, logger, service.metrics.registry);
  // A replacement is applied at once; a write in place never is, since no event says it is done.
  const watcher =
    watch && configPath !== undefined
      ? watchConfigFile(configPath, (change) =>
          change === 'replaced' ? reloader.reload('watch') : reloader.refuseWrittenInPlace(configPath),
        )
      : undefined;

  let stopping = false;
  onSignal = (signal) => {
    if (signal === 'SIGHUP') return reloader.reload('SIGHUP');
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
  placement.settled(service);
}
