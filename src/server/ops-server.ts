import http from 'node:http';
import type net from 'node:net';
import type { Metrics } from '../observability/metrics';
import { JWKS_MAX_AGE_SECONDS } from '../upstream/jwks';

export interface OpsEndpoints {
  metrics: Metrics;
  /** undefined when ready to take traffic, otherwise the reason it is not. */
  notReadyBecause: () => string | undefined;
  /** The JWK Set upstreams verify upstream_jwt tokens with; undefined when upstream_jwt is off. */
  jwks: () => string | undefined;
}

/**
 * /healthz (the process answers), /readyz (serving and Kratos reachable), /metrics (Prometheus),
 * /.well-known/jwks.json (the upstream_jwt public keys; 404 without upstream_jwt).
 */
export function createOpsServer(endpoints: OpsEndpoints): http.Server {
  return http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return send(response, 405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(response, 200, 'text/plain', 'ok\n');
      case '/readyz': {
        const problem = endpoints.notReadyBecause();
        return problem === undefined
          ? send(response, 200, 'text/plain', 'ready\n')
          : send(response, 503, 'text/plain', `not ready: ${problem}\n`);
      }
      case '/metrics':
        endpoints.metrics.registry.metrics().then(
          (text) => send(response, 200, endpoints.metrics.registry.contentType, text),
          () => send(response, 500, 'text/plain', 'metrics unavailable\n'),
        );
        return;
      case '/.well-known/jwks.json': {
        const jwks = endpoints.jwks();
        if (jwks === undefined) return send(response, 404, 'text/plain', 'not found: upstream_jwt is not configured\n');
        return send(response, 200, 'application/jwk-set+json', jwks, `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
      }
      default:
        return send(response, 404, 'text/plain', 'not found\n');
    }
  });
}

function send(
  response: http.ServerResponse,
  status: number,
  contentType: string,
  body: string,
  cacheControl = 'no-store',
): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': cacheControl });
  response.end(body);
}

export function listenHttp(server: net.Server, address: string): Promise<number> {
  const separator = address.lastIndexOf(':');
  const host = address.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(separator + 1));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound ? bound.port : port);
    });
  });
}
