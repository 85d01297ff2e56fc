import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KratosEndpoint } from '../kratos/types';

/** Every metric this service exports, on its own registry (no global state between instances). */
export class Metrics {
  readonly registry = new Registry();

  readonly checks = new Counter({
    name: 'kratos_ext_authz_checks_total',
    help: 'Checks answered, by front door, verdict, credential kind and reason.',
    labelNames: ['front_door', 'decision', 'credential', 'reason'] as const,
    registers: [this.registry],
  });

  readonly checkDuration = new Histogram({
    name: 'kratos_ext_authz_check_duration_seconds',
    help: 'Time from receiving a check (a Check call or an HTTP authorization request) to handing its answer to the transport.',
    labelNames: ['front_door'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly httpClientErrors = new Counter({
    name: 'kratos_ext_authz_http_client_errors_total',
    help: 'HTTP authorization calls refused before any front door read them (malformed, headers too large, too slow), by status.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly kratosRequests = new Counter({
    name: 'kratos_ext_authz_kratos_requests_total',
    help: 'HTTP calls to Kratos, by endpoint and HTTP status (or timeout / connection error).',
    labelNames: ['endpoint', 'status'] as const,
    registers: [this.registry],
  });

  readonly kratosDuration = new Histogram({
    name: 'kratos_ext_authz_kratos_request_duration_seconds',
    help: 'Duration of HTTP calls to Kratos.',
    labelNames: ['endpoint'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly cacheRequests = new Counter({
    name: 'kratos_ext_authz_cache_requests_total',
    help: 'Cache lookups, by cache and result (hit, miss, stale, coalesced).',
    labelNames: ['cache', 'result'] as const,
    registers: [this.registry],
  });

  readonly identityValuesLeftOut = new Counter({
    name: 'kratos_ext_authz_identity_values_left_out_total',
    help: 'Trait values not passed upstream (identity_headers, upstream_jwt.claims) because they are not header- or claim-safe, by target, name and reason.',
    labelNames: ['target', 'name', 'reason'] as const,
    registers: [this.registry],
  });

  readonly upstreamJwts = new Counter({
    name: 'kratos_ext_authz_upstream_jwts_total',
    help: 'Upstream JWTs handed out, by result: issued (signed now) or cached.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  observeKratosCall = (endpoint: KratosEndpoint, status: string, seconds: number): void => {
    this.kratosRequests.inc({ endpoint, status });
    this.kratosDuration.observe({ endpoint }, seconds);
  };
}
