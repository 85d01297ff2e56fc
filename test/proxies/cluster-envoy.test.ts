/**
 * server.workers: 2 behind the real Envoy, running the shipped envoy/envoy.yaml with two worker
 * threads: each Envoy worker opens its own gRPC connection to ext_authz, and the primary's round
 * robin must give them to different workers. The listener is told to balance its downstream
 * connections exactly, so two of them are one on each Envoy worker, and to keep the test's
 * x-request-id, which names each request in the service's log.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { envoyConfig, httpConnectionManager, toYaml } from '../../stack/configs';
import { envoyBinaryPath, pinnedVersions } from '../../stack/versions';
import { BIN, serveBin, type Serving } from '../support/executable';
import { KratosEmulator } from '../support/kratos-emulator';
import { envoyUnavailable } from './support/launch';
import { freePort, skipUnlessInstalled, startProxy, type ProxyProcess } from './support/proxy-process';

const version = pinnedVersions().envoy.at(-1) as string;
const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-cluster-envoy-'));

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
      const serviceConfig = join(dir, 'service.yaml');
      writeFileSync(
        serviceConfig,
        `server: {grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", http_authz_address: "", workers: 2}\nkratos: {public_url: "${emulator.publicUrl}", admin_url: "${emulator.adminUrl}"}\n`,
      );
      serving = await serveBin(process.execPath, [BIN, '--config', serviceConfig]);
      port = await freePort();
      const kratosPublic = await freePort();
      const ports = {
        envoy: port,
        envoyAdmin: await freePort(),
        kratosPublic,
        kratosAdmin: kratosPublic,
        extAuthzGrpc: serving.grpcPort,
        extAuthzHttp: await freePort(),
        upstream: await freePort(),
        ui: await freePort(),
      };
      const config = envoyConfig(ports, (shipped) => {
        httpConnectionManager(shipped).preserve_external_request_id = true;
        const [listener] = (shipped.static_resources as { listeners: Array<Record<string, unknown>> }).listeners;
        if (listener) listener.connection_balance_config = { exact_balance: {} };
      });
      const file = join(dir, 'envoy.yaml');
      writeFileSync(file, toYaml(config));
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
