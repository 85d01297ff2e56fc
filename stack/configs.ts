// The local stack's configuration files, generated from the Docker demo's own files (envoy/),
// so the two never drift apart: only addresses change (the compose service names and fixed ports
// become 127.0.0.1 and free ports), plus what a caller overrides on purpose.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { projectRoot } from './project-root';

/** What a YAML file parses into, walked without `any`. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function obj(value: Json | undefined, what: string): JsonObject {
  if (!isObject(value)) throw new Error(`${what} must be a mapping`);
  return value;
}

function list(value: Json | undefined, what: string): Json[] {
  if (!Array.isArray(value)) throw new Error(`${what} must be a list`);
  return value;
}

export function readProjectYaml(relativePath: string): JsonObject {
  return obj(parseYaml(readFileSync(join(projectRoot, relativePath), 'utf8')) as Json, relativePath);
}

/** Deep merge of `patch` into `target` (mappings merge, everything else replaces). */
export function merge(target: JsonObject, patch: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    target[key] = isObject(current) && isObject(value) ? merge(current, value) : value;
  }
  return target;
}

export interface StackPorts {
  /** Envoy's listener: the app, and Kratos's public API on the same origin. */
  envoy: number;
  envoyAdmin: number;
  kratosPublic: number;
  kratosAdmin: number;
  extAuthzGrpc: number;
  extAuthzHttp: number;
  upstream: number;
  /** The demo login UI (envoy/ui/server.js). */
  ui: number;
}

/**
 * The host browsers use for the app. 127.0.0.1 by default; `localhost` where WebAuthn is needed
 * (a relying party ID cannot be an IP address), which moves every browser URL there.
 */
export type PublicHost = '127.0.0.1' | 'localhost';

/** The demo's browser origin (kratos.browser_url of envoy/config.yaml, http://127.0.0.1:8080). */
function demoOrigin(): URL {
  const kratos = obj(readProjectYaml('envoy/config.yaml').kratos, 'envoy/config.yaml kratos');
  if (typeof kratos.browser_url !== 'string') throw new Error('envoy/config.yaml kratos.browser_url must be a string');
  return new URL(kratos.browser_url);
}

/**
 * Replaces the demo's origin (on 127.0.0.1 and on localhost) in every string of `value` with the
 * same host on `port`: return URLs, UI URLs, CORS origins.
 */
function rebaseOrigins(value: Json, port: number, host?: PublicHost): Json {
  const demo = demoOrigin();
  const from = ['127.0.0.1', 'localhost'].map((h) => `${demo.protocol}//${h}:${demo.port}`);
  const walk = (v: Json): Json => {
    if (typeof v === 'string') {
      for (const origin of from) {
        if (v === origin || v.startsWith(`${origin}/`)) {
          const target = host ? `${demo.protocol}//${host}:${port}` : origin.replace(/:\d+$/, `:${port}`);
          return `${target}${v.slice(origin.length)}`;
        }
      }
      return v;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, walk(inner)]));
    return v;
  };
  return walk(value);
}

function setSocket(address: Json | undefined, what: string, host: string, port: number): void {
  const socket = obj(obj(address, what).socket_address, `${what}.socket_address`);
  socket.address = host;
  socket.port_value = port;
}

/** The cluster that each upstream of envoy/envoy.yaml becomes in the local stack. */
function clusterPorts(ports: StackPorts): Record<string, number> {
  return { ext_authz: ports.extAuthzGrpc, kratos_public: ports.kratosPublic, upstream: ports.upstream, ui: ports.ui };
}

/** envoy/envoy.yaml with every address on 127.0.0.1; `adjust` may change the result further. */
export function envoyConfig(ports: StackPorts, adjust?: (config: JsonObject) => void, host?: PublicHost): JsonObject {
  const config = obj(rebaseOrigins(readProjectYaml('envoy/envoy.yaml'), ports.envoy, host), 'envoy.yaml');
  setSocket(obj(config.admin, 'admin').address, 'admin.address', '127.0.0.1', ports.envoyAdmin);
  const resources = obj(config.static_resources, 'static_resources');
  for (const listener of list(resources.listeners, 'listeners'))
    setSocket(obj(listener, 'listener').address, 'listener.address', '127.0.0.1', ports.envoy);
  const byCluster = clusterPorts(ports);
  for (const cluster of list(resources.clusters, 'clusters')) {
    const c = obj(cluster, 'cluster');
    const name = String(c.name);
    const port = byCluster[name];
    if (port === undefined)
      throw new Error(`envoy.yaml cluster ${name} has no local address: add it to stack/configs.ts`);
    for (const group of list(obj(c.load_assignment, 'load_assignment').endpoints, 'endpoints')) {
      for (const lb of list(obj(group, 'endpoints[]').lb_endpoints, 'lb_endpoints')) {
        setSocket(obj(obj(lb, 'lb_endpoint').endpoint, 'endpoint').address, 'endpoint.address', '127.0.0.1', port);
      }
    }
  }
  adjust?.(config);
  return config;
}

/** The HTTP connection manager of the first listener: where most Envoy variants change things. */
export function httpConnectionManager(config: JsonObject): JsonObject {
  const listener = obj(list(obj(config.static_resources, 'static_resources').listeners, 'listeners')[0], 'listener');
  const chain = obj(list(listener.filter_chains, 'filter_chains')[0], 'filter chain');
  const hcm = list(chain.filters, 'filters')
    .map((f) => obj(f, 'filter'))
    .find((f) => f.name === 'envoy.filters.network.http_connection_manager');
  return obj(hcm?.typed_config, 'http_connection_manager typed_config');
}

/** The typed_config of the named HTTP filter. */
export function httpFilter(config: JsonObject, name: string): JsonObject {
  const filter = list(httpConnectionManager(config).http_filters, 'http_filters')
    .map((f) => obj(f, 'http filter'))
    .find((f) => f.name === name);
  return obj(filter?.typed_config, `${name} typed_config`);
}

/** envoy/kratos/kratos.yml for 127.0.0.1 with `overrides` merged in; the DSN comes from the environment. */
export function kratosConfig(ports: StackPorts, overrides: JsonObject = {}, host?: PublicHost): JsonObject {
  const config = obj(rebaseOrigins(readProjectYaml('envoy/kratos/kratos.yml'), ports.envoy, host), 'kratos.yml');
  delete config.dsn;
  const serve = obj(config.serve, 'serve');
  merge(serve, {
    public: { host: '127.0.0.1', port: ports.kratosPublic },
    admin: { host: '127.0.0.1', port: ports.kratosAdmin, base_url: `http://127.0.0.1:${ports.kratosAdmin}/` },
  });
  // The container mounts envoy/kratos at /etc/config/kratos; here the files are read in place.
  const identity = obj(config.identity, 'identity');
  identity.schemas = list(identity.schemas, 'identity.schemas').map((schema) => {
    const s = obj(schema, 'identity schema');
    const url = String(s.url).replace('file:///etc/config/kratos/', `file://${join(projectRoot, 'envoy', 'kratos')}/`);
    return { ...s, url };
  });
  return merge(config, overrides);
}

/** envoy/config.yaml for 127.0.0.1, with `overrides` merged in. */
export function serviceConfig(
  ports: StackPorts,
  overrides: JsonObject = {},
  host: PublicHost = '127.0.0.1',
): JsonObject {
  const config = readProjectYaml('envoy/config.yaml');
  merge(config, {
    // Envoy talks gRPC here; the HTTP front doors' fixed default port (0.0.0.0:9193) would clash
    // between stacks on one machine, so they are off.
    server: {
      grpc_address: `127.0.0.1:${ports.extAuthzGrpc}`,
      http_address: `127.0.0.1:${ports.extAuthzHttp}`,
      http_authz_address: '',
    },
    kratos: {
      public_url: `http://127.0.0.1:${ports.kratosPublic}`,
      admin_url: `http://127.0.0.1:${ports.kratosAdmin}`,
      browser_url: `http://${host}:${ports.envoy}`,
    },
  });
  return merge(config, overrides);
}

export function toYaml(config: JsonObject): string {
  return stringifyYaml(config, { lineWidth: 0 });
}
