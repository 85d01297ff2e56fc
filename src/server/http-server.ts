import http from 'node:http';
import type { Metrics } from '../observability/metrics';

export interface HttpEndpoints {
  metrics: Metrics;
  /** undefined when ready to take traffic, otherwise the reason it is not. */
  notReadyBecause: () => string | undefined;
}

/** /healthz (the process answers), /readyz (serving and Kratos reachable), /metrics (Prometheus). */
export function createHttpServer(endpoints: HttpEndpoints): http.Server {
  return http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(response, 200, 'text/plain', 'ok\n');
      case '/readyz': {
        const problem = endpoints.notReadyBecause();
        return problem === undefined ? send(response, 200, 'text/plain', 'ready\n') : send(response, 503, 'text/plain', `not ready: ${problem}\n`);
      }
      case '/metrics':
        endpoints.metrics.registry.metrics().then(
          (text) => send(response, 200, endpoints.metrics.registry.contentType, text),
          () => send(response, 500, 'text/plain', 'metrics unavailable\n'),
        );
        return;
      default:
        return send(response, 404, 'text/plain', 'not found\n');
    }
  });
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}

export function listenHttp(server: http.Server, address: string): Promise<number> {
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
