/**
 * The real Envoy in front of the upstream for the envoy-* scenarios: one minimal bootstrap per
 * variant (a listener, a route to the upstream, and the ext_authz filter or none), validated
 * with `envoy --mode validate` before it is started. Minimal on purpose: the demo's envoy.yaml
 * also has CORS, header mutation, an access log and a health check, which would add Envoy work
 * (on the load core) to every variant alike and blur what ext_authz itself adds.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { JsonObject } from '../stack/configs';
import { freePorts } from '../stack/ports';
import { Children } from '../stack/processes';
import { waitUntilOk } from '../stack/local-stack';
import type { Binary } from '../stack/versions';
import { LOAD_CORE, pinned } from './processes';

/** The ext_authz timeout (Envoy's default); the service answers well within it. */
const EXT_AUTHZ_TIMEOUT = '0.2s';

const HTTP2_UPSTREAM = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http2_protocol_options: {} },
  },
};

function staticCluster(name: string, port: number, extra: JsonObject = {}): JsonObject {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] },
      ],
    },
    ...extra,
  };
}

/**
 * The same ext_authz settings as envoy/envoy.yaml, except the timeout the issue asks for; with
 * `encodeRawHeaders` false for a server that reads only CheckRequest's `headers` map (Heimdall:
 * with raw headers Envoy fills `header_map` instead, and Heimdall finds no cookie at all).
 */
function extAuthzFilter(encodeRawHeaders: boolean): JsonObject {
  return {
    name: 'envoy.filters.http.ext_authz',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      grpc_service: { envoy_grpc: { cluster_name: 'ext_authz' }, timeout: EXT_AUTHZ_TIMEOUT },
      transport_api_version: 'V3',
      failure_mode_allow: false,
      status_on_error: { code: 'ServiceUnavailable' },
      encode_raw_headers: encodeRawHeaders,
    },
  };
}

/**
 * The service's HTTP door as examples/envoy-http/envoy.yaml calls it (http_service, path_prefix
 * /ext-authz), less that file's path normalisation, which the gRPC variants do not have either.
 */
function httpServiceFilter(): JsonObject {
  return {
    name: 'envoy.filters.http.ext_authz',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      transport_api_version: 'V3',
      failure_mode_allow: false,
      status_on_error: { code: 'ServiceUnavailable' },
      allowed_headers: {
        patterns: ['cookie', 'x-session-token', 'accept', 'sec-fetch-mode', 'x-forwarded-proto', 'x-request-id'].map(
          (exact) => ({ exact }),
        ),
      },
      http_service: {
        server_uri: { uri: 'http://127.0.0.1', cluster: 'ext_authz', timeout: EXT_AUTHZ_TIMEOUT },
        path_prefix: '/ext-authz',
        authorization_response: {
          allowed_upstream_headers: {
            patterns: ['x-kratos-identity-id', 'x-kratos-session-id', 'x-kratos-aal', 'cookie'].map((exact) => ({
              exact,
            })),
          },
          allowed_client_headers_on_success: { patterns: [{ exact: 'set-cookie' }] },
        },
      },
    },
  };
}

/**
 * What Envoy's ext_authz asks: nothing (envoy-direct), a gRPC server on a port, an HTTP
 * authorizer (http_service) on a port, or Kratos's whoami itself (the peer).
 */
export type EnvoyAuthz =
  | { kind: 'none' }
  | { kind: 'grpc'; port: number; encodeRawHeaders?: false }
  | { kind: 'http'; port: number }
  | { kind: 'kratos-whoami'; kratosPort: number };

export interface EnvoyPorts {
  listener: number;
  admin: number;
  upstream: number;
  /** The authorization server and how Envoy calls it; undefined: no ext_authz filter at all (envoy-direct). */
  authz: { port: number; transport: 'grpc' | 'http'; encodeRawHeaders: boolean } | undefined;
}

/** The committed peer config, run as users would copy it: see the file's header. */
const PEER_CONFIG = join(__dirname, '..', '..', 'bench', 'envoy-peer-kratos.yaml');

/** The loopback ports written in envoy-peer-kratos.yaml, each replaced by the port of this run. */
const PEER_CANONICAL_PORTS = { listener: 10000, admin: 9901, upstream: 8080, rewrite: 10001, kratos: 4433 } as const;
type PeerPorts = Record<keyof typeof PEER_CANONICAL_PORTS, number>;

/** Every `port_value` and loopback URI of the committed file, moved to this run's ports. */
export function peerKratosConfig(ports: PeerPorts): JsonObject {
  const byCanonical = new Map<number, number>(
    Object.entries(PEER_CANONICAL_PORTS).map(([name, canonical]) => [canonical, ports[name as keyof PeerPorts]]),
  );
  const move = (port: number): number => {
    const moved = byCanonical.get(port);
    if (moved === undefined) throw new Error(`${PEER_CONFIG}: port ${port} is none of the canonical ports`);
    return moved;
  };
  const walk = (value: unknown, key: string): unknown => {
    if (Array.isArray(value)) return value.map((item) => walk(item, key));
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    if (key === 'port_value' && typeof value === 'number') return move(value);
    if (key === 'uri' && typeof value === 'string')
      return value.replace(/:(\d+)$/, (_, port: string) => `:${move(Number(port))}`);
    return value;
  };
  return walk(parse(readFileSync(PEER_CONFIG, 'utf8')), '') as JsonObject;
}

export function envoyBenchConfig(ports: EnvoyPorts): JsonObject {
  const router = {
    name: 'envoy.filters.http.router',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
  };
  const clusters = [staticCluster('upstream', ports.upstream)];
  const authz = ports.authz;
  if (authz !== undefined)
    clusters.push(
      staticCluster(
        'ext_authz',
        authz.port,
        authz.transport === 'grpc' ? { typed_extension_protocol_options: HTTP2_UPSTREAM } : {},
      ),
    );
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: ports.admin } } },
    static_resources: {
      listeners: [
        {
          name: 'ingress_http',
          address: { socket_address: { address: '127.0.0.1', port_value: ports.listener } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress_http',
                    codec_type: 'AUTO',
                    route_config: {
                      name: 'local_route',
                      virtual_hosts: [
                        {
                          name: 'app',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }],
                        },
                      ],
                    },
                    http_filters:
                      authz === undefined
                        ? [router]
                        : [
                            authz.transport === 'grpc' ? extAuthzFilter(authz.encodeRawHeaders) : httpServiceFilter(),
                            router,
                          ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters,
    },
  };
}

export interface RunningEnvoy {
  /** Where h2load sends requests: http://127.0.0.1:<listener>. */
  baseUrl: string;
  configPath: string;
  stop(): Promise<void>;
}

/** `envoy --mode validate`: a config Envoy rejects fails the phase before anything is measured. */
function validate(envoy: Binary, configPath: string): void {
  const result = spawnSync(envoy.path, ['--mode', 'validate', '-c', configPath, '--log-level', 'warn'], {
    encoding: 'utf8',
  });
  if (result.status !== 0)
    throw new Error(`envoy ${envoy.version} --mode validate rejected ${configPath}:\n${result.stdout}${result.stderr}`);
}

async function configFor(
  upstream: number,
  authz: EnvoyAuthz,
): Promise<{ config: JsonObject; listener: number; admin: number }> {
  const [listener, admin, rewrite] = (await freePorts(3)) as [number, number, number];
  if (authz.kind === 'kratos-whoami')
    return {
      config: peerKratosConfig({ listener, admin, upstream, rewrite, kratos: authz.kratosPort }),
      listener,
      admin,
    };
  return {
    config: envoyBenchConfig({
      listener,
      admin,
      upstream,
      authz:
        authz.kind === 'none'
          ? undefined
          : {
              port: authz.port,
              transport: authz.kind,
              encodeRawHeaders: authz.kind === 'grpc' && authz.encodeRawHeaders !== false,
            },
    }),
    listener,
    admin,
  };
}

/**
 * Writes, validates and starts one Envoy pinned to the load core, with one worker thread unless
 * asked for more (each worker opens its own connection to the authorization server).
 */
export async function startEnvoy(
  envoy: Binary,
  workdir: string,
  name: string,
  upstreamPort: number,
  authz: EnvoyAuthz,
  workers = 1,
): Promise<RunningEnvoy> {
  const { config, listener, admin } = await configFor(upstreamPort, authz);
  const configPath = join(workdir, `envoy-${name}.json`);
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  validate(envoy, configPath);
  const children = new Children();
  const [command, args] = pinned(LOAD_CORE, envoy.path, [
    '-c',
    configPath,
    '--concurrency',
    String(workers),
    '--use-dynamic-base-id',
    '--log-level',
    'warn',
  ]);
  children.start({ name: 'envoy', command, args });
  try {
    await waitUntilOk(`http://127.0.0.1:${admin}/ready`, children, 'envoy', 20_000);
  } catch (error) {
    await children.stopAll();
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n${(children.logs.get('envoy') ?? []).slice(-20).join('\n')}`,
    );
  }
  return { baseUrl: `http://127.0.0.1:${listener}`, configPath, stop: () => children.stopAll() };
}
