import type http from 'node:http';
import { getHeapStatistics } from 'node:v8';
import { IdentityCache } from '../cache/identity-cache';
import { SessionCache, type CacheResult } from '../cache/session-cache';
import { traitPathsOf, type Config } from '../config/schema';
import { authorizeDependencies } from '../authorize';
import { createCheck, type CheckFunction } from '../envoy/check';
import { KratosClient } from '../kratos/client';
import { describeReading } from '../kratos/code-mfa-rule';
import { KratosVersionWatch } from '../kratos/kratos-version';
import { checkObserver } from '../observability/check-observer';
import type { Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { oncePer } from '../observability/once-per';
import { startTracing } from '../observability/start-tracing';
import type { Tracing } from '../observability/tracing';
import { createHttpAuthzServer, type HttpAuthzSettings } from '../http/server';
import { trustedProxies } from '../http/trusted-proxies';
import { HealthStatuses } from '../grpc/health';
import { createGrpcServer, HEALTH_SERVICES } from './grpc-server';
import { createOpsServer, listenHttp } from './ops-server';
import { KratosReadiness } from './kratos-readiness';
import { jwksDocument } from '../upstream/jwks';
import { loadSigningKeys, type SigningKey } from '../upstream/signing-key';
import { UpstreamIdentity } from '../upstream/upstream-identity';
import { UpstreamJwtIssuer } from '../upstream/upstream-jwt';

/** The service's doors (gRPC, HTTP authorization) and its life, without the ops server. */
export interface ServiceDoors {
  grpcPort: number;
  /** The HTTP authorization front doors' port; undefined when server.http_authz_address is "". */
  httpAuthzPort: number | undefined;
  metrics: Metrics;
  /** undefined when ready to take traffic, otherwise the reason it is not (/readyz). */
  notReadyBecause(): string | undefined;
  /** /.well-known/jwks.json as served; undefined without upstream_jwt. */
  jwks(): string | undefined;
  /**
   * Makes an already validated configuration the one every check started from now on runs
   * under; checks in flight finish under the one they started with. The listen addresses and
   * log.pretty are not changed (the caller reports them as needing a restart).
   */
  reconfigure(config: Config): void;
  /** Stops taking traffic at once, lets in-flight checks finish within server.shutdown_timeout. */
  shutdown(): Promise<void>;
}

/** The whole service in one process: its doors and its ops server. */
export interface RunningService extends ServiceDoors {
  httpPort: number;
}

/** The Kratos client and the caches in front of it: kept across reloads that leave kratos.* and cache.* alone. */
interface KratosSide {
  settings: string;
  kratos: KratosClient;
  sessions: SessionCache;
  identities: IdentityCache;
  /** Checks running on this side: a side a reload replaced closes its pools after the last one. */
  running: number;
}

/**
 * Everything a check reads from the configuration, built whole before it is published. A check
 * takes the current generation once, when it starts, so it is decided by exactly one
 * configuration however many reloads happen while it waits for Kratos.
 */
interface Generation extends HttpAuthzSettings {
  config: Config;
  check: CheckFunction;
  side: KratosSide;
  /** /.well-known/jwks.json as served; undefined without upstream_jwt. */
  jwks: string | undefined;
}

// Signed tokens are kept per session up to cache.max_entries, but never more than this: each
// is about a kilobyte, ten times a cached session.
const MAX_CACHED_JWTS = 10_000;

/** The trait paths are read into each cached session: other paths need other sessions. */
function kratosSideSettings(config: Config): string {
  return JSON.stringify([config.kratos, config.cache, traitPathsOf(config)]);
}

function buildKratosSide(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  versions: () => KratosVersionWatch,
): KratosSide {
  const kratos = new KratosClient(config.kratos, metrics.observeKratosCall, traitPathsOf(config), () =>
    versions().rule(),
  );
  const warnStale = oncePer(10_000, () =>
    logger.warn(
      { stale_if_error_ms: config.cache.stale_if_error },
      'Kratos is failing: serving cached sessions past their TTL (cache.stale_if_error)',
    ),
  );
  const countSession = (result: CacheResult) => {
    metrics.cacheRequests.inc({ cache: 'session', result });
    if (result === 'stale') warnStale();
  };
  return {
    settings: kratosSideSettings(config),
    kratos,
    sessions: new SessionCache(kratos, config.cache, countSession),
    identities: new IdentityCache(kratos, config.cache.identity_ttl, config.cache.max_entries, (result) =>
      metrics.cacheRequests.inc({ cache: 'identity', result }),
    ),
    running: 0,
  };
}

function buildGeneration(
  config: Config,
  side: KratosSide,
  logger: Logger,
  metrics: Metrics,
  warnKratosTooStrict: () => void,
  tracing: Tracing,
): Generation {
  // Its own child logger, so log.level changes for later checks only.
  const checkLogger = logger.child({}, { level: config.log.level });
  // Read again on every build: a key file replaced in place is picked up by the next reload.
  const signingKeys = loadSigningKeys(config.upstream_jwt?.keys ?? []);
  const authorize = authorizeDependencies(config, {
    sessions: side.sessions,
    identities: side.identities,
    onKratosStricterThanPolicy: warnKratosTooStrict,
    upstream: buildUpstreamIdentity(config, signingKeys, metrics),
    observe: checkObserver(checkLogger, metrics),
    tracing,
  });
  const jwks = config.upstream_jwt && jwksDocument(signingKeys);
  return {
    config,
    check: createCheck(authorize),
    authorize,
    isTrustedProxy: trustedProxies(config.http_authz.trusted_proxies),
    side,
    jwks,
  };
}

/** A new one each generation: a reload that rotates the signer starts with no cached token. */
function buildUpstreamIdentity(
  config: Config,
  keys: readonly SigningKey[],
  metrics: Metrics,
): UpstreamIdentity | undefined {
  const jwt = config.upstream_jwt;
  if (!jwt && Object.keys(config.identity_headers).length === 0) return undefined;
  const signed = jwt && {
    header: jwt.header,
    issuer: new UpstreamJwtIssuer({ ...jwt, keys }, Math.min(config.cache.max_entries, MAX_CACHED_JWTS), (result) =>
      metrics.upstreamJwts.inc({ result }),
    ),
    claims: jwt.claims,
  };
  return new UpstreamIdentity(config.identity_headers, signed, (target, name, reason) =>
    metrics.identityValuesLeftOut.inc({ target, name, reason }),
  );
}

/** The whole service in this process: the doors, then the ops server, then the "serving" line. */
export async function startService(initial: Config, logger: Logger): Promise<RunningService> {
  const doors = await startDoors(initial, logger);
  const httpServer = createOpsServer({
    metrics: async () => ({
      contentType: doors.metrics.registry.contentType,
      text: await doors.metrics.registry.metrics(),
    }),
    notReadyBecause: async () => doors.notReadyBecause(),
    jwks: async () => doors.jwks(),
  });
  const httpPort = await listenHttp(httpServer, initial.server.http_address);
  logServing(logger, 'serving', initial, {
    grpc_port: doors.grpcPort,
    http_port: httpPort,
    http_authz_port: doors.httpAuthzPort,
  });
  return {
    ...doors,
    httpPort,
    shutdown: async () => {
      await doors.shutdown(async () => {
        httpServer.closeAllConnections();
        await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      });
      logger.info('stopped');
    },
  };
}

/**
 * One worker of several (server.workers > 1): the doors only, on listening handles node:cluster
 * shares; the primary serves /healthz, /readyz and /metrics for all (cluster-primary.ts).
 */
export async function startClusterWorkerService(initial: Config, logger: Logger): Promise<ServiceDoors> {
  const doors = await startDoors(initial, logger);
  // No ports: the primary's "serving" line has them, once every worker serves.
  logServing(logger, 'worker serving', initial, {});
  return {
    ...doors,
    shutdown: async () => {
      await doors.shutdown(async () => undefined);
      logger.info('stopped');
    },
  };
}

// The heap limit V8 really applies (see heap-sized-worker.ts), so an operator can check it against the memory limit.
function logServing(logger: Logger, message: string, config: Config, ports: Record<string, number | undefined>): void {
  logger.info(
    { ...ports, kratos: config.kratos.public_url, heap_size_limit_bytes: getHeapStatistics().heap_size_limit },
    message,
  );
}

/** The doors' shutdown, with what to close once they are (the ops server, when this process has it). */
interface Doors extends Omit<ServiceDoors, 'shutdown'> {
  shutdown(afterDoors: () => Promise<void>): Promise<void>;
}

async function startDoors(initial: Config, logger: Logger): Promise<Doors> {
  const metrics = new Metrics();
  // Bound at start-up, as the listeners are: a reload that changes tracing.* asks for a restart.
  const tracing = startTracing(initial.tracing, logger);
  const warnKratosTooStrict = oncePer(60_000, () =>
    logger.error(
      'Kratos refused a session with session_aal2_required although this policy only needs aal1: set session.whoami.required_aal: aal1 in Kratos, or tokens of identities with a second factor are denied',
    ),
  );
  // Follows kratos.admin_url, admin_token and version: a reload that changes anything else keeps what it has read.
  let versions = watchKratosVersion(initial, logger);
  await versions.start();
  let current = buildGeneration(
    initial,
    buildKratosSide(initial, logger, metrics, () => versions),
    logger,
    metrics,
    warnKratosTooStrict,
    tracing,
  );
  /** Sides a reload replaced while checks still ran on them. */
  const retiredWithChecks = new Set<KratosSide>();
  /** A check is done with its side: a side a reload replaced closes its pools after its last one. */
  const leave = (side: KratosSide): void => {
    side.running--;
    if (side.running === 0 && retiredWithChecks.delete(side)) void side.kratos.close();
  };
  /** Runs `use` under the generation current now, keeping its Kratos side open until it is done. */
  const underCurrent = async <T>(use: (generation: Generation) => Promise<T>): Promise<T> => {
    const generation = current;
    generation.side.running++;
    try {
      return await use(generation);
    } finally {
      leave(generation.side);
    }
  };
  // The gRPC hot path, written out rather than through underCurrent: no closure per check.
  const check: CheckFunction = async (request, deadline, traceHeaders) => {
    const generation = current;
    generation.side.running++;
    try {
      return await generation.check(request, deadline, traceHeaders);
    } finally {
      leave(generation.side);
    }
  };

  // Follows kratos.public_url only: a reload that changes anything else keeps what it has learnt.
  let readiness = new KratosReadiness(initial.kratos.public_url);
  const health = new HealthStatuses(Object.fromEntries(HEALTH_SERVICES.map((name) => [name, 'NOT_SERVING'])));
  const grpcServer = createGrpcServer(check, health, logger);
  const httpAuthzServer =
    initial.server.http_authz_address === ''
      ? undefined
      : createHttpAuthzServer({
          underCurrentConfig: underCurrent,
          requestTimeout: initial.http_authz.request_timeout,
          logger,
          onClientError: (status) => metrics.httpClientErrors.inc({ status: String(status) }),
        });
  let draining = false;

  const grpcPort = await listenHttp(grpcServer.listener, initial.server.grpc_address);
  const httpAuthzPort = httpAuthzServer && (await listenHttp(httpAuthzServer, initial.server.http_authz_address));
  readiness.start();
  for (const name of HEALTH_SERVICES) health.set(name, 'SERVING');

  return {
    grpcPort,
    httpAuthzPort,
    metrics,
    notReadyBecause: () => (draining ? 'shutting down' : readiness.problem()),
    jwks: () => current.jwks,
    reconfigure: (config) => {
      const previous = current;
      const keepSide = previous.side.settings === kratosSideSettings(config);
      if (versionSettings(config) !== versionSettings(previous.config)) {
        void versions.stop();
        versions = watchKratosVersion(config, logger);
        void versions.start();
      }
      const side = keepSide ? previous.side : buildKratosSide(config, logger, metrics, () => versions);
      const next = buildGeneration(config, side, logger, metrics, warnKratosTooStrict, tracing);
      // The one assignment that publishes the new configuration.
      current = next;
      logger.level = config.log.level;
      if (!keepSide) {
        if (previous.side.running > 0) retiredWithChecks.add(previous.side);
        else void previous.side.kratos.close();
      }
      if (config.kratos.public_url !== previous.config.kratos.public_url) {
        readiness.stop();
        readiness = new KratosReadiness(config.kratos.public_url);
        readiness.start();
      }
    },
    shutdown: async (afterDoors) => {
      draining = true;
      for (const name of HEALTH_SERVICES) health.set(name, 'NOT_SERVING');
      readiness.stop();
      await versions.stop();
      const { server } = current.config;
      // Keep answering while Envoy's health checks (or Kubernetes endpoints) notice NOT_SERVING.
      if (server.drain_delay > 0) await new Promise((resolve) => setTimeout(resolve, server.drain_delay));
      const grpcStopped = grpcServer.close(server.shutdown_timeout).then((drained) => {
        if (!drained)
          logger.warn(
            { shutdown_timeout_ms: server.shutdown_timeout },
            'in-flight checks did not finish in time; closing',
          );
      });
      await Promise.all([grpcStopped, httpAuthzServer && closeHttpAuthz(httpAuthzServer, server.shutdown_timeout)]);
      await afterDoors();
      // Both doors are closed: a Kratos call still running belongs to a check that was cut, and
      // waiting for it (up to kratos.timeout) would outlast server.shutdown_timeout.
      await Promise.all([current.side, ...retiredWithChecks].map((side) => side.kratos.destroy()));
      await tracing.shutdown();
    },
  };
}

function versionSettings(config: Config): string {
  return JSON.stringify([config.kratos.admin_url, config.kratos.admin_token, config.kratos.version]);
}

/** Says which code-MFA rule applies, at start and whenever the Kratos version read changes. */
function watchKratosVersion(config: Config, logger: Logger): KratosVersionWatch {
  const codeMfaEnabled = config.kratos.code_mfa_enabled;
  return new KratosVersionWatch(config.kratos, (reading) => {
    const fields = {
      kratos_version: reading.known ? reading.version : 'unknown',
      code_mfa_rule: reading.rule,
      code_mfa_enabled: codeMfaEnabled,
    };
    // Unknown only matters where the rule is applied; the stricter rule then makes more identities step up.
    if (!reading.known && codeMfaEnabled) logger.warn(fields, describeReading(reading, codeMfaEnabled));
    else logger.info(fields, describeReading(reading, codeMfaEnabled));
  });
}

/**
 * Stops accepting calls and closes idle keep-alive connections; calls in flight get their
 * answer (each connection then closes) until `timeoutMs`, after which the rest are cut.
 */
function closeHttpAuthz(server: http.Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, timeoutMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
