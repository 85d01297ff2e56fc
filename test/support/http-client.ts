/**
 * A client for the HTTP authorization front doors that calls them the way each proxy does:
 * Traefik/Caddy (`/forward-auth`, X-Forwarded-*), nginx (`/auth-request`, X-Original-*) and
 * Envoy http_service (`/ext-authz` + the path). Requests are described with the same CheckSpec
 * the gRPC client takes, so one table can drive every door.
 */
import http from 'node:http';
import type { CheckSpec } from './envoy-client';

export type HttpDoor = 'forward_auth' | 'auth_request' | 'envoy_http';
export const HTTP_DOORS: readonly HttpDoor[] = ['forward_auth', 'auth_request', 'envoy_http'];

export interface HttpCall {
  method: string;
  path: string;
  /** Header lines in order, repeated names kept apart. */
  headers: Array<[string, string]>;
}

export interface HttpAnswer {
  status: number;
  /** Lower-case names; a repeated header's lines joined with ", ". */
  headers: Record<string, string>;
  /** The `set-cookie` lines, each as sent (joining them would break their Expires). */
  setCookie: string[];
  body: string;
}

/** The call a proxy of that door makes for the request the spec describes. */
export function callFor(door: HttpDoor, spec: CheckSpec = {}): HttpCall {
  const method = spec.method ?? 'GET';
  const path = spec.path ?? '/';
  const host = spec.host ?? 'app.example.com';
  const scheme = spec.scheme ?? 'https';
  const given = (Array.isArray(spec.headers) ? spec.headers : Object.entries(spec.headers ?? {})).map(
    ([name, value]): [string, string] => [name, Buffer.isBuffer(value) ? value.toString('latin1') : value],
  );
  switch (door) {
    case 'forward_auth':
      return {
        method: 'GET',
        path: '/forward-auth',
        headers: [
          ['host', 'authz.internal:9193'],
          ['x-forwarded-method', method],
          ['x-forwarded-proto', scheme],
          ['x-forwarded-host', host],
          ['x-forwarded-uri', path],
          ...given,
        ],
      };
    case 'auth_request':
      return {
        method: 'GET',
        path: '/auth-request',
        headers: [
          ['host', host],
          ['x-original-method', method],
          ['x-original-url', `${scheme}://${host}${path}`],
          ...given,
        ],
      };
    case 'envoy_http':
      return { method, path: `/ext-authz${path}`, headers: [['host', host], ['x-forwarded-proto', scheme], ...given] };
  }
}

export class AuthzHttpClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(private readonly port: number) {}

  check(door: HttpDoor, spec: CheckSpec = {}): Promise<HttpAnswer> {
    return this.send(callFor(door, spec));
  }

  send(call: HttpCall, timeoutMs = 5_000): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: call.method,
          path: call.path,
          headers: call.headers.flat(),
          agent: this.agent,
          timeout: timeoutMs,
          setHost: false,
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: joinedHeaders(response.rawHeaders),
              setCookie: response.headers['set-cookie'] ?? [],
              body,
            }),
          );
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      request.on('error', reject);
      request.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function joinedHeaders(raw: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = (raw[index] as string).toLowerCase();
    const value = raw[index + 1] as string;
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}
