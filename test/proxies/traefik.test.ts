/**
 * Real Traefik v3 (built from its release source by scripts/install-proxies.sh traefik) running
 * examples/traefik/traefik.yaml and dynamic.yaml: the forwardAuth middleware of
 * examples/kubernetes/traefik-middleware.yaml, through Traefik's file provider.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../stack/versions';
import { AuthzHttpClient } from '../support/http-client';
import { renderExample, startProxy, type ProxyProcess } from './support/proxy-process';
import { spellingStory } from './support/spelling-story';
import { proxyStory, type ProxyUnderTest } from './support/story';

const ROOT = join(__dirname, '..', '..', '..');

/** Where scripts/install-proxies.sh puts the binary for the version it builds (or $TRAEFIK). */
function traefikBinary(): string {
  if (process.env.TRAEFIK) return process.env.TRAEFIK;
  const script = readFileSync(join(ROOT, 'scripts', 'install-proxies.sh'), 'utf8');
  const version = /^TRAEFIK_VERSION=(v[\d.]+)$/m.exec(script)?.[1] ?? 'unknown';
  return join(cacheRoot, `traefik-${version}`, 'traefik');
}

async function startTraefik(ports: { authz: number; app: number; proxy: number }, dir: string): Promise<ProxyProcess> {
  mkdirSync(dir, { recursive: true });
  const dynamic = join(dir, 'dynamic.yaml');
  writeFileSync(
    dynamic,
    renderExample('examples/traefik/dynamic.yaml', [
      ['address: http://127.0.0.1:9193/forward-auth', `address: http://127.0.0.1:${ports.authz}/forward-auth`],
      ['url: http://127.0.0.1:3000', `url: http://127.0.0.1:${ports.app}`],
    ]),
  );
  const config = join(dir, 'traefik.yaml');
  writeFileSync(
    config,
    renderExample('examples/traefik/traefik.yaml', [
      ['address: ":8080"', `address: "127.0.0.1:${ports.proxy}"`],
      ['filename: dynamic.yaml', `filename: ${JSON.stringify(dynamic)}`],
    ]),
  );
  const traefik = await startProxy(traefikBinary(), [`--configFile=${config}`], ports.proxy);
  await routesLoaded(ports.proxy, traefik);
  return traefik;
}

/**
 * The entry point listens before the file provider's routers are in place, and answers 404
 * until then: wait for the first answer that is not Traefik's own 404.
 */
async function routesLoaded(port: number, traefik: ProxyProcess): Promise<void> {
  const client = new AuthzHttpClient(port);
  try {
    const deadline = Date.now() + 10_000;
    while (
      (
        await client.send({
          method: 'GET',
          path: '/.traefik-ready',
          headers: [
            ['host', 'ready.invalid'],
            ['accept', 'application/json'],
          ],
        })
      ).status === 404
    ) {
      if (Date.now() > deadline) throw new Error(`Traefik loaded no routes within 10 s:\n${traefik.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
}

const unavailable = () =>
  existsSync(traefikBinary())
    ? undefined
    : `Traefik is not built at ${traefikBinary()} (scripts/install-proxies.sh traefik)`;

const traefik: ProxyUnderTest = {
  name: 'traefik',
  authorizerUnreachable: 500,
  kratosDownStatus: 503,
  passesRenewedCookie: { allowed: true, denied: true },
  passesDenialBodies: true,
  unavailable,
  start: startTraefik,
};

proxyStory(traefik);
spellingStory({
  name: 'traefik',
  unavailable,
  start: startTraefik,
  underscores: 'passed on, then deleted by authResponseHeadersRegex',
  refusesUnderscores: false,
});
