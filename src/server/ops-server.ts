import http from 'node:http';
import type net from 'node:net';
import { JWKS_MAX_AGE_SECONDS } from '../upstream/jwks';

/** Each asynchronous: with several workers the primary asks them (cluster-primary.ts). */
export interface OpsEndpoints {
  /** The Prometheus exposition and its content type. */
  metrics: () => Promise<{ contentType: string; text: string }>;
  /** undefined when ready to take traffic, otherwise the reason it is not. */
  notReadyBecause: () => Promise<string | undefined>;
  /** The JWK Set upstreams verify upstream_jwt tokens with; undefined when upstream_jwt is off. */
  jwks: () => Promise<string | undefined>;
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
      case '/readyz':
        return answer(response, endpoints.notReadyBecause(), (problem) =>
          problem === undefined
            ? send(response, 200, 'text/plain', 'ready\n')
            : send(response, 503, 'text/plain', `not ready: ${problem}\n`),
        );
      case '/metrics':
        return answer(response, endpoints.metrics(), ({ contentType, text }) => send(response, 200, contentType, text));
      case '/.well-known/jwks.json':
        return answer(response, endpoints.jwks(), (jwks) =>
          jwks === undefined
            ? send(response, 404, 'text/plain', 'not found: upstream_jwt is not configured\n')
            : send(response, 200, 'application/jwk-set+json', jwks, `public, max-age=${JWKS_MAX_AGE_SECONDS}`),
        );
      default:
        return send(response, 404, 'text/plain', 'not found\n');
    }
  });
}

/** Sends what `pending` settles to; a failure (a worker that did not answer) is a 500, never a hang. */
function answer<T>(response: http.ServerResponse, pending: Promise<T>, sendValue: (value: T) => void): void {
  pending.then(sendValue, (error: unknown) =>
    send(response, 500, 'text/plain', `unavailable: ${error instanceof Error ? error.message : String(error)}\n`),
  );
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
