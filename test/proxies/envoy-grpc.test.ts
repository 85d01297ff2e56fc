/**
 * Real Envoy (both versions the real-stack tooling caches) in gRPC mode, running envoy/envoy.yaml
 * with its addresses on loopback (stack/configs.ts): the identity header spellings, as shipped
 * (REJECT_REQUEST) and with Envoy's default ALLOW, which the shipped Istio provider
 * (deploy/istio/mesh-config.yaml) leaves in place: there only headers_to_remove stands between
 * x-kratos-identity_id and a CGI-style app.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envoyConfig, httpConnectionManager, toYaml } from '../../stack/configs';
import { envoyBinaryPath, pinnedVersions } from '../../stack/versions';
import { freePort, startProxy } from './support/proxy-process';
import { spellingStory, type SpellingPorts } from './support/spelling-story';

type UnderscoresAction = 'REJECT_REQUEST' | 'ALLOW';

for (const version of pinnedVersions().envoy) {
  const binary = envoyBinaryPath(version);
  const missing = existsSync(binary)
    ? undefined
    : `Envoy ${version} is not at ${binary} (the real-stack tooling installs it)`;

  const startEnvoy = (action: UnderscoresAction) => async (ports: SpellingPorts, dir: string) => {
    mkdirSync(dir, { recursive: true });
    const [envoyAdmin, kratosPublic, ui] = [await freePort(), await freePort(), await freePort()];
    const config = envoyConfig(
      {
        envoy: ports.proxy,
        envoyAdmin,
        kratosPublic,
        kratosAdmin: kratosPublic,
        extAuthzGrpc: ports.grpc,
        extAuthzHttp: ports.authz,
        upstream: ports.app,
        ui,
      },
      (shipped) => {
        if (action === 'REJECT_REQUEST') return;
        httpConnectionManager(shipped).common_http_protocol_options = { headers_with_underscores_action: action };
      },
    );
    const file = join(dir, 'envoy.yaml');
    writeFileSync(file, toYaml(config));
    return startProxy(
      binary,
      ['-c', file, '--use-dynamic-base-id', '--concurrency', '1', '--log-level', 'warn'],
      ports.proxy,
    );
  };

  spellingStory({
    name: `envoy-${version} gRPC`,
    unavailable: () => missing,
    start: startEnvoy('REJECT_REQUEST'),
    underscores: 'refused (REJECT_REQUEST, as shipped)',
    refusesUnderscores: true,
  });
  spellingStory({
    name: `envoy-${version} gRPC`,
    unavailable: () => missing,
    start: startEnvoy('ALLOW'),
    underscores: "passed on (ALLOW, Envoy's default), removed by headers_to_remove",
    refusesUnderscores: false,
  });
}
