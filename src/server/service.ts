import type http from 'node:http';
import { HealthImplementation } from 'grpc-health-check';
import { IdentityCache } from '../cache/identity-cache';
import { SessionCache, type CacheResult } from '../cache/session-cache';
import type { Config } from '../config/schema';
import { createCheck } from '../envoy/check';
import { KratosClient } from '../kratos/client';
import { checkObserver } from '../observability/check-observer';
import type { Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { oncePer } from '../observability/once-per';
import { compilePolicy } from '../policy/policy';
import { kratosCredentialExtractor } from '../request/credentials';
import { createHttpAuthzServer } from '../http/server';
import { trustedProxies } from '../http/trusted-proxies';
import { bindGrpc, createGrpcServer, HEALTH_SERVICES } from './grpc-server';
import { createHttpServer, listenHttp } from './http-server';
import { KratosReadiness } from './kratos-readiness';

export interface RunningService {
  grpcPort: number;
  httpPort: number;
  /** The HTTP authorization front doors' port; undefined when server.http_authz_address is "". */
  httpAuthzPort: number | undefined;
  metrics: Metrics;
  /** Stops taking traffic at once, lets in-flight checks finish within server.shutdown_timeout. */
  shutdown(): Promise<void>;
}

export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  const metrics = new Metrics();
  const kratos = new KratosClient(config.kratos, metrics.observeKratosCall);
  const warnKratosTooStrict = oncePer(60_000, () =>
    logger.error(
      'Kratos refused a session with session_aal2_required although this policy only needs aal1: set session.whoami.required_aal: aal1 in Kratos, or tokens of identities with a second factor are denied',
    ),
  );
  const warnStale = oncePer(10_000, () => logger.warn({ stale_if_error_ms: config.cache.stale_if_error }, 'Kratos is failing: serving cached sessions past their TTL (cache.stale_if_error)'));
  const countSession = (result: CacheResult) => {
    metrics.cacheRequests.inc({ cache: 'session', result });
    if (result === 'stale') warnStale();
  };
  const sessions = new SessionCache(kratos, config.cache, countSession);
  const identities = new IdentityCache(kratos, config.cache.identity_ttl, config.cache.max_entries, (result) => metrics.cacheRequests.inc({ cache: 'identity', result }));
  const authorizeDeps = {
    decision: {
      policy: compilePolicy(config.policy),
      extractCredential: kratosCredentialExtractor(config.kratos.session_cookie),
      sessions,
      identities,
      whoamiEnforcesHighestAvailable: config.kratos.whoami_enforces_highest_available,
      onKratosStricterThanPolicy: warnKratosTooStrict,
    },
    loginUrl: { browserUrl: config.kratos.browser_url || config.kratos.public_url, allowedHosts: config.return_to.allowed_hosts },
    observe: checkObserver(logger, metrics),
  };
  const check = createCheck(authorizeDeps);
  const httpAuthzServer =
    config.server.http_authz_address === ''
      ? undefined
      : createHttpAuthzServer({
          authorize: authorizeDeps,
          isTrustedProxy: trustedProxies(config.http_authz.trusted_proxies),
          requestTimeout: config.http_authz.request_timeout,
          logger,
          onClientError: (status) => metrics.httpClientErrors.inc({ status: String(status) }),
        });

  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((name) => [name, 'NOT_SERVING'])));
  const grpcServer = createGrpcServer(check, health, logger);
  const readiness = new KratosReadiness(config.kratos.public_url);
  let draining = false;
  const httpServer = createHttpServer({
    metrics,
    notReadyBecause: () => (draining ? 'shutting down' : readiness.problem()),
  });

  const grpcPort = await bindGrpc(grpcServer, config.server.grpc_address);
  const httpPort = await listenHttp(httpServer, config.server.http_address);
  const httpAuthzPort = httpAuthzServer && (await listenHttp(httpAuthzServer, config.server.http_authz_address));
  readiness.start();
  for (const name of HEALTH_SERVICES) health.setStatus(name, 'SERVING');
  logger.info({ grpc_port: grpcPort, http_port: httpPort, http_authz_port: httpAuthzPort, kratos: config.kratos.public_url }, 'serving');

  return {
    grpcPort,
    httpPort,
    httpAuthzPort,
    metrics,
    shutdown: async () => {
      draining = true;
      for (const name of HEALTH_SERVICES) health.setStatus(name, 'NOT_SERVING');
      readiness.stop();
      // Keep answering while Envoy's health checks (or Kubernetes endpoints) notice NOT_SERVING.
      if (config.server.drain_delay > 0) await new Promise((resolve) => setTimeout(resolve, config.server.drain_delay));
      const grpcStopped = new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          logger.warn({ shutdown_timeout_ms: config.server.shutdown_timeout }, 'in-flight checks did not finish in time; closing');
          grpcServer.forceShutdown();
          resolve();
        }, config.server.shutdown_timeout);
        grpcServer.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await Promise.all([grpcStopped, httpAuthzServer && closeHttpAuthz(httpAuthzServer, config.server.shutdown_timeout)]);
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      logger.info('stopped');
    },
  };
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
