// The local stack's generated configurations (stack/configs.ts), adapted to the container stack's
// pod: every container of a stack shares one network namespace (as the containers of a
// Kubernetes pod do), so 127.0.0.1 and the ports chosen for the process stack mean the same there.
// What changes: listeners the test process reaches through published ports bind 0.0.0.0 (a
// published port arrives on the pod's bridge address, not on its loopback), and an address of the
// test process itself (a proxy in front of Kratos) becomes the bridge gateway the pod reaches it on.
import { existsSync, statSync } from 'node:fs';
import {
  envoyConfig,
  isObject,
  kratosConfig,
  merge,
  serviceConfig,
  type Json,
  type JsonObject,
  type StackPorts,
} from '../../stack/configs';
import type { Variant } from './stack';

const LOOPBACK = '127.0.0.1';
const ANY = '0.0.0.0';

export interface PodConfigs {
  kratos: JsonObject;
  service: JsonObject;
  envoy: JsonObject;
}

/** A copy of `value` with `change` applied to every mapping and string, deepest first. */
function mapJson(value: Json, change: (v: Json) => Json): Json {
  if (Array.isArray(value)) return change(value.map((v) => mapJson(v, change)));
  if (isObject(value))
    return change(Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapJson(v, change)])));
  return change(value);
}

/** Loopback addresses of `ports` (as `host:port` strings and Envoy socket addresses) moved to `host`. */
function readdress(config: JsonObject, ports: readonly number[], host: string): JsonObject {
  const moved = mapJson(config, (v) => {
    if (typeof v === 'string')
      return ports.reduce((s, port) => s.replaceAll(`${LOOPBACK}:${port}`, `${host}:${port}`), v);
    if (isObject(v) && v.address === LOOPBACK && typeof v.port_value === 'number' && ports.includes(v.port_value))
      return { ...v, address: host };
    return v;
  });
  if (!isObject(moved)) throw new Error('a configuration must stay a mapping');
  return moved;
}

/**
 * The three configurations for a pod on `ports`; `hostAddress` is where the pod reaches the test
 * process, whose proxy (variant.kratosPublicPortForClients) stands in front of Kratos.
 */
export function podConfigs(ports: StackPorts, variant: Variant | undefined, hostAddress: string): PodConfigs {
  const clientPorts: StackPorts = { ...ports, kratosPublic: variant?.kratosPublicPortForClients ?? ports.kratosPublic };
  const onHost = clientPorts.kratosPublic === ports.kratosPublic ? [] : [clientPorts.kratosPublic];

  const kratos = kratosConfig(ports, variant?.kratosOverrides, variant?.publicHost);
  merge(kratos, { serve: { public: { host: ANY }, admin: { host: ANY } } });

  const service = readdress(
    serviceConfig(clientPorts, variant?.serviceOverrides, variant?.publicHost),
    onHost,
    hostAddress,
  );
  merge(service, { server: { http_address: `${ANY}:${ports.extAuthzHttp}` } });

  const envoy = readdress(envoyConfig(clientPorts, variant?.adjustEnvoy, variant?.publicHost), onHost, hostAddress);
  // The admin interface and the listener: the only Envoy addresses the test process connects to.
  const listening = (address: Json | undefined): void => {
    const socket = isObject(address) ? address.socket_address : undefined;
    if (isObject(socket)) socket.address = ANY;
  };
  if (isObject(envoy.admin)) listening(envoy.admin.address);
  const resources = envoy.static_resources;
  if (isObject(resources) && Array.isArray(resources.listeners))
    for (const listener of resources.listeners) if (isObject(listener)) listening(listener.address);
  return { kratos, service, envoy };
}

/**
 * The files of this machine a configuration names (identity schemas as file:// URLs, key files as
 * paths): a container gets each at the same path, so the configuration works unchanged in it.
 */
export function hostFilesNamedIn(config: JsonObject): string[] {
  const files = new Set<string>();
  mapJson(config, (v) => {
    if (typeof v === 'string') {
      const path = v.startsWith('file:///') ? v.slice('file://'.length) : v;
      if (path.startsWith('/') && existsSync(path) && statSync(path).isFile()) files.add(path);
    }
    return v;
  });
  return [...files];
}
