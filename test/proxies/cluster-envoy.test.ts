/**
 * server.workers: 2 behind the real Envoy with two worker threads: each Envoy worker opens its
 * own gRPC connection to ext_authz, and the primary's round robin must give them to different
 * workers (the kernel's accept balancing would not promise it). Envoy's listener balances its
 * downstream connections exactly, so two of them are one on each Envoy worker.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { envoyBinaryPath, pinnedVersions } from '../../stack/versions';
import { BIN, serveBin, type Serving } from '../support/executable';
import { KratosEmulator } from '../support/kratos-emulator';
import { envoyUnavailable } from './support/launch';
import { freePort, skipUnlessInstalled, startProxy, type ProxyProcess } from './support/proxy-process';

const version = pinnedVersions().envoy.at(-1) as string;
const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-cluster-envoy-'));

/** Envoy with two workers, ext_authz over gRPC to `grpcPort`, every allowed request answered by Envoy itself. */
function envoyConfig(port: number, adminPort: number, grpcPort: number): string {
  return JSON.stringify({
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
    static_resources: {
      listeners: [
        {
          address: { socket_address: { address: '127.0.0.1', port_value: port } },
          connection_balance_config: { exact_balance: {} },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress',
                    // The test's x-request-id reaches the CheckRequest, and so the service's log line.
                    preserve_external_request_id: true,
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [
                            { match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } } },
                          ],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.ext_authz',
                        typed_config: {
                          '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
                          transport_api_version: 'V3',
                          grpc_service: { envoy_grpc: { cluster_name: 'ext_authz' }, timeout: '2s' },
                        },
                      },
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'ext_authz',
          type: 'STATIC',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: 'ext_authz',
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: grpcPort } } } },
                ],
              },
            ],
          },
        },
      ],
    },
  });
}

/** A request on a connection of its own, held open until `agent` is destroyed. */
function requestOn(agent: http.Agent, port: number, requestId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: '127.0.0.1', port, path: '/', agent, headers: { 'x-request-id': requestId } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
  });
}

describe(
  `server.workers: 2 behind Envoy ${version} --concurrency 2`,
  { skip: skipUnlessInstalled(envoyUnavailable(version)) },
  () => {
    let emulator: KratosEmulator;
    let serving: Serving;
    let envoy: ProxyProcess;
    let port: number;
    before(async () => {
      emulator = await KratosEmulator.start();
      mkdirSync(dir, { recursive: true });
      const config = join(dir, 'service.yaml');
      writeFileSync(
        config,
        `server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "", workers: 2}\nkratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}"}\n`,
      );
      serving = await serveBin(process.execPath, [BIN, '--config', config]);
      port = await freePort();
      const file = join(dir, 'envoy.json');
      writeFileSync(file, envoyConfig(port, await freePort(), serving.grpcPort));
      envoy = await startProxy(
        envoyBinaryPath(version),
        ['-c', file, '--use-dynamic-base-id', '--concurrency', '2', '--log-level', 'warn'],
        port,
      );
    });
    after(async () => {
      await envoy?.stop();
      serving?.child.kill('SIGTERM');
      await serving?.exited;
      await emulator?.stop();
    });

    test("Envoy's two gRPC connections are served by the two workers", async () => {
      const workerPids = (await serving.waitForLog((line) => line.msg === 'serving')).worker_pids as number[];
      // Two downstream connections open at once: exact balance puts one on each Envoy worker.
      const agents = [
        new http.Agent({ keepAlive: true, maxSockets: 1 }),
        new http.Agent({ keepAlive: true, maxSockets: 1 }),
      ];
      try {
        const statuses = await Promise.all(
          agents.map((agent, index) => requestOn(agent, port, `envoy-worker-${index}`)),
        );
        // No credential: Envoy relays the service's denial.
        assert.deepEqual(statuses, [401, 401]);
        const pids = await Promise.all(
          agents.map(async (_agent, index) =>
            Number((await serving.waitForLog((line) => line.request_id === `envoy-worker-${index}`)).pid),
          ),
        );
        assert.deepEqual([...pids].sort(), [...workerPids].sort());
      } finally {
        for (const agent of agents) agent.destroy();
      }
    });
  },
);
