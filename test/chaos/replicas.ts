// Two replicas of the service behind the real Envoy: the local stack's own ext-authz process
// (replica A) and a second one started beside it (replica B), with the ext_authz cluster given
// both endpoints, fast gRPC health checks and outlier detection (the README's recommendation).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isObject, serviceConfig, toYaml, type JsonObject } from '../../stack/configs';
import { EXT_AUTHZ, waitUntilOk, type LocalStack } from '../../stack/local-stack';
import { projectRoot } from '../../stack/project-root';

export const REPLICA_A = EXT_AUTHZ;
export const REPLICA_B = 'ext-authz-b';

/** Envoy marks a NOT_SERVING replica unhealthy after interval x unhealthy_threshold = 2 s. */
export const HEALTH_INTERVAL = '1s';
const UNHEALTHY_THRESHOLD = 2;
/** Above interval x unhealthy_threshold, so Envoy has stopped sending before the replica closes. */
export const DRAIN_DELAY = '3s';

/** Both replicas: drain on SIGTERM, no HTTP authorization door (two replicas cannot share its port). */
export const REPLICA_OVERRIDES: JsonObject = { server: { drain_delay: DRAIN_DELAY }, log: { level: 'warn' } };

export interface ReplicaPorts {
  grpc: number;
  http: number;
}

/** The cluster config the README recommends, with replica B's endpoint added beside A's. */
export function twoReplicaCluster(b: ReplicaPorts): (config: JsonObject) => void {
  return (config) => {
    const resources = config.static_resources;
    if (!isObject(resources) || !Array.isArray(resources.clusters)) throw new Error('envoy config without clusters');
    const cluster = resources.clusters.find((c) => isObject(c) && c.name === 'ext_authz');
    if (!isObject(cluster) || !isObject(cluster.load_assignment) || !Array.isArray(cluster.load_assignment.endpoints))
      throw new Error('no ext_authz cluster');
    const group = cluster.load_assignment.endpoints[0];
    if (!isObject(group) || !Array.isArray(group.lb_endpoints)) throw new Error('ext_authz cluster without endpoints');
    group.lb_endpoints.push({
      endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: b.grpc } } },
    });
    cluster.health_checks = [
      {
        timeout: '0.5s',
        interval: HEALTH_INTERVAL,
        // Otherwise 60s: a replica started while the cluster has no traffic waits that long.
        no_traffic_interval: HEALTH_INTERVAL,
        unhealthy_threshold: UNHEALTHY_THRESHOLD,
        healthy_threshold: 1,
        grpc_health_check: { service_name: 'envoy.service.auth.v3.Authorization' },
      },
    ];
    // A replica that dies between two health checks: eject it on its first failed calls
    // (connect failures count as 5xx) rather than waiting for the next check.
    cluster.outlier_detection = {
      consecutive_5xx: 1,
      consecutive_gateway_failure: 1,
      interval: '1s',
      base_ejection_time: '10s',
      max_ejection_percent: 50,
    };
  };
}

export function startReplicaB(stack: LocalStack, b: ReplicaPorts): void {
  const file = join(stack.workDir, 'config-b.yaml');
  const config = serviceConfig({ ...stack.ports, extAuthzGrpc: b.grpc, extAuthzHttp: b.http }, REPLICA_OVERRIDES);
  writeFileSync(file, toYaml(config));
  stack.children.start({
    name: REPLICA_B,
    command: process.execPath,
    args: [join(projectRoot, 'dist', 'src', 'main.js'), '--config', file],
  });
}

/** Waits until Envoy's own health checks call the replica on `grpcPort` healthy. */
export async function untilEnvoyCallsHealthy(stack: LocalStack, grpcPort: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const flag = `ext_authz::127.0.0.1:${grpcPort}::health_flags::`;
  let last = 'not listed';
  while (Date.now() < deadline) {
    const text = await (await fetch(`${stack.envoyAdminUrl}/clusters`)).text();
    last =
      text
        .split('\n')
        .find((line) => line.startsWith(flag))
        ?.slice(flag.length) ?? 'not listed';
    if (last === 'healthy') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Envoy did not call 127.0.0.1:${grpcPort} healthy within ${timeoutMs}ms (last: ${last})`);
}

export async function restartReplica(stack: LocalStack, name: string, ports: ReplicaPorts): Promise<void> {
  stack.children.restart(name);
  await waitUntilOk(`http://127.0.0.1:${ports.http}/readyz`, stack.children, name);
  await untilEnvoyCallsHealthy(stack, ports.grpc);
}
