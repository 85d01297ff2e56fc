/**
 * Real Envoy (both versions the real-stack tooling caches) in http_service mode, running
 * examples/envoy-http/envoy.yaml.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { join } from 'node:path';
import { startHarness } from '../support/harness';
import { AuthzHttpClient } from '../support/http-client';
import { startEchoUpstream } from './support/echo-upstream';
import { pinnedVersions } from '../../stack/versions';
import { envoyUnavailable, startEnvoy } from './support/launch';
import { freePort, renderExample, skipUnlessInstalled } from './support/proxy-process';
import { spellingStory } from './support/spelling-story';
import { proxyStory } from './support/story';

// The oldest and newest Envoy the project supports (the real-stack issue's pair).

function renderConfig(
  ports: { authz: number; app: number; proxy: number },
  changes: ReadonlyArray<readonly [string, string]> = [],
): string {
  return renderExample('examples/envoy-http/envoy.yaml', [
    ...changes,
    ['address: 0.0.0.0, port_value: 8080', `address: 127.0.0.1, port_value: ${ports.proxy}`],
    ['uri: "http://127.0.0.1:9193"', `uri: "http://127.0.0.1:${ports.authz}"`],
    ['address: 127.0.0.1, port_value: 9193', `address: 127.0.0.1, port_value: ${ports.authz}`],
    ['address: 127.0.0.1, port_value: 3000', `address: 127.0.0.1, port_value: ${ports.app}`],
  ]);
}

for (const version of pinnedVersions().envoy) {
  const missing = envoyUnavailable(version);

  // Envoy lets a request through when an HTTP authorizer fails under failure_mode_allow: the
  // door must never answer Kratos's outage in a way Envoy counts as the authorizer failing.
  test(
    `envoy-${version}: with failure_mode_allow: true, Kratos unavailable is still a denial`,
    { skip: skipUnlessInstalled(missing) },
    async () => {
      const harness = await startHarness();
      const app = await startEchoUpstream();
      const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-envoy-fail-open-'));
      try {
        assert.ok(harness.service.httpAuthzPort);
        const ports = { authz: harness.service.httpAuthzPort, app: app.port, proxy: await freePort() };
        const envoy = await startEnvoy(
          version,
          renderConfig(ports, [['failure_mode_allow: false', 'failure_mode_allow: true']]),
          ports.proxy,
          dir,
        );
        const client = new AuthzHttpClient(ports.proxy);
        try {
          const session = harness.newSession(harness.emulator.addIdentity());
          harness.emulator.fail('whoami', { mode: 'status500', count: 1 });
          const answer = await client.send({
            method: 'GET',
            path: '/page',
            headers: [
              ['host', 'app.example.com'],
              ['x-session-token', session.token],
            ],
          });
          assert.equal(answer.status, 403);
          assert.equal((JSON.parse(answer.body) as { error: { id: string } }).error.id, 'kratos_unavailable');
          assert.equal(app.count(), 0, 'the app was not reached');
        } finally {
          client.close();
          await envoy.stop();
        }
      } finally {
        await app.stop();
        await harness.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  proxyStory({
    name: `envoy-${version}`,
    authorizerUnreachable: 503,
    kratosDownStatus: 403,
    passesRenewedCookie: { allowed: true, denied: true },
    passesDenialBodies: true,
    unavailable: () => missing,
    start: (ports, dir) => startEnvoy(version, renderConfig(ports), ports.proxy, dir),
  });

  spellingStory({
    name: `envoy-${version} http_service`,
    unavailable: () => missing,
    start: (ports, dir) => startEnvoy(version, renderConfig(ports), ports.proxy, dir),
    underscores: 'dropped (DROP_HEADER, as shipped)',
    refusesUnderscores: false,
  });
  // Istio and Envoy Gateway leave (or let operators leave) Envoy's default, ALLOW: then only the
  // answer's x-envoy-auth-headers-to-remove keeps the spellings from the app.
  spellingStory({
    name: `envoy-${version} http_service`,
    unavailable: () => missing,
    start: (ports, dir) =>
      startEnvoy(
        version,
        renderConfig(ports, [
          ['headers_with_underscores_action: DROP_HEADER', 'headers_with_underscores_action: ALLOW'],
        ]),
        ports.proxy,
        dir,
      ),
    underscores: "passed on (ALLOW, Envoy's default), removed by x-envoy-auth-headers-to-remove",
    refusesUnderscores: false,
  });
}
