/** Real Envoy (both versions the real-stack tooling caches) in http_service mode, running examples/envoy-http/envoy.yaml. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BINARY_CACHE, renderExample, startProxy } from './support/proxy-process';
import { proxyStory } from './support/story';

// The oldest and newest Envoy the project supports (the real-stack issue's pair).
const VERSIONS = ['1.36.4', '1.40.0'];

function renderConfig(ports: { authz: number; app: number; proxy: number }): string {
  return renderExample('examples/envoy-http/envoy.yaml', [
    ['address: 0.0.0.0, port_value: 8080', `address: 127.0.0.1, port_value: ${ports.proxy}`],
    ['uri: "http://127.0.0.1:9193"', `uri: "http://127.0.0.1:${ports.authz}"`],
    ['address: 127.0.0.1, port_value: 9193', `address: 127.0.0.1, port_value: ${ports.authz}`],
    ['address: 127.0.0.1, port_value: 3000', `address: 127.0.0.1, port_value: ${ports.app}`],
  ]);
}

for (const version of VERSIONS) {
  const binary = join(BINARY_CACHE, `envoy-${version}`, 'envoy');
  proxyStory({
    name: `envoy-${version}`,
    authorizerUnreachable: 503,
    kratosDown: 'status_only',
    passesDenialBodies: true,
    unavailable: () => (existsSync(binary) ? undefined : `Envoy ${version} is not at ${binary} (the real-stack tooling installs it)`),
    start: async (ports, dir) => {
      mkdirSync(dir, { recursive: true });
      const config = join(dir, 'envoy.yaml');
      writeFileSync(config, renderConfig(ports));
      return startProxy(binary, ['-c', config, '--use-dynamic-base-id', '--concurrency', '1', '--log-level', 'warn'], ports.proxy);
    },
  });
}
