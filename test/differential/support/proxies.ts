/**
 * Each real proxy with its shipped config, addresses pointed at this run's ports: Envoy with
 * envoy/envoy.yaml (gRPC ext_authz) and examples/envoy-http/envoy.yaml (http_service), nginx
 * with examples/nginx/nginx.conf, Caddy with examples/caddy/Caddyfile, Traefik with
 * examples/traefik/{traefik.yaml,dynamic.yaml}.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { envoyConfig, isObject, toYaml, type Json, type JsonObject } from '../../../stack/configs';
import { projectRoot } from '../../../stack/project-root';
import { cacheRoot, envoyBinaryPath, pinnedVersions } from '../../../stack/versions';
import { freePort, onPath, renderExample, startProxy, type ProxyProcess } from '../../proxies/support/proxy-process';

export interface Ports {
  /** The service's gRPC listener (Envoy gRPC ext_authz). */
  grpc: number;
  /** The service's HTTP front doors (/forward-auth, /auth-request, /ext-authz). */
  httpAuthz: number;
  kratosPublic: number;
  app: number;
  proxy: number;
}

export interface DifferentialProxy {
  name: string;
  /** Speaks HTTP/2 in cleartext with prior knowledge, so :authority variants apply. */
  http2: boolean;
  unavailable(): string | undefined;
  start(ports: Ports, dir: string): Promise<ProxyProcess>;
}

/** The newest pinned Envoy: the differential budget goes to one version (test/proxies covers both). */
const ENVOY = envoyBinaryPath(pinnedVersions().envoy.at(-1) ?? '');
const envoyMissing = () => (existsSync(ENVOY) ? undefined : `Envoy is not at ${ENVOY} (npm run stack:install)`);
const startEnvoy = (config: string, port: number) =>
  startProxy(ENVOY, ['-c', config, '--use-dynamic-base-id', '--concurrency', '1', '--log-level', 'error'], port);

const envoyGrpc: DifferentialProxy = {
  name: 'envoy-grpc',
  http2: true,
  unavailable: envoyMissing,
  start: async (ports, dir) => {
    const config = join(dir, 'envoy.yaml');
    const rendered = envoyConfig({
      envoy: ports.proxy,
      envoyAdmin: await freePort(),
      kratosPublic: ports.kratosPublic,
      kratosAdmin: 0,
      extAuthzGrpc: ports.grpc,
      extAuthzHttp: ports.httpAuthz,
      upstream: ports.app,
      // The demo login UI's route is checked like the app's: the app stands in for it.
      ui: ports.app,
    });
    writeFileSync(config, toYaml(rendered));
    return startEnvoy(config, ports.proxy);
  },
};

const envoyHttp: DifferentialProxy = {
  name: 'envoy-http',
  http2: true,
  unavailable: envoyMissing,
  start: async (ports, dir) => {
    const config = join(dir, 'envoy.yaml');
    writeFileSync(
      config,
      renderExample('examples/envoy-http/envoy.yaml', [
        ['address: 0.0.0.0, port_value: 8080', `address: 127.0.0.1, port_value: ${ports.proxy}`],
        ['uri: "http://127.0.0.1:9193"', `uri: "http://127.0.0.1:${ports.httpAuthz}"`],
        ['address: 127.0.0.1, port_value: 9193', `address: 127.0.0.1, port_value: ${ports.httpAuthz}`],
        ['address: 127.0.0.1, port_value: 3000', `address: 127.0.0.1, port_value: ${ports.app}`],
      ]),
    );
    return startEnvoy(config, ports.proxy);
  },
};

const nginx: DifferentialProxy = {
  name: 'nginx',
  http2: false,
  unavailable: () => (onPath('nginx') ? undefined : 'nginx is not installed (scripts/install-proxies.sh nginx)'),
  start: async (ports, dir) => {
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const config = join(dir, 'nginx.conf');
    writeFileSync(
      config,
      renderExample('examples/nginx/nginx.conf', [
        ['server 127.0.0.1:9193;', `server 127.0.0.1:${ports.httpAuthz};`],
        ['server 127.0.0.1:3000;', `server 127.0.0.1:${ports.app};`],
        ['listen 8080;', `listen 127.0.0.1:${ports.proxy};`],
      ]),
    );
    return startProxy(
      'nginx',
      ['-p', dir, '-c', config, '-e', 'stderr', '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`],
      ports.proxy,
    );
  },
};

function caddyBinary(): string {
  const goMod = readFileSync(join(projectRoot, 'test', 'proxies', 'caddy-build', 'go.mod'), 'utf8');
  const version = /^require github\.com\/caddyserver\/caddy\/v2 (v[\d.]+)$/m.exec(goMod)?.[1] ?? 'unknown';
  return process.env.CADDY ?? join(cacheRoot, `caddy-${version}`, 'caddy');
}

const caddy: DifferentialProxy = {
  name: 'caddy',
  http2: false,
  unavailable: () =>
    existsSync(caddyBinary()) ? undefined : `Caddy is not built at ${caddyBinary()} (scripts/install-proxies.sh caddy)`,
  start: async (ports, dir) => {
    const config = join(dir, 'Caddyfile');
    writeFileSync(
      config,
      renderExample('examples/caddy/Caddyfile', [
        ['forward_auth 127.0.0.1:9193 {', `forward_auth 127.0.0.1:${ports.httpAuthz} {`],
        ['reverse_proxy 127.0.0.1:3000', `reverse_proxy 127.0.0.1:${ports.app}`],
        [':8080 {', `:${ports.proxy} {`],
      ]),
    );
    const env = { ...process.env, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') };
    return startProxy(caddyBinary(), ['run', '--config', config, '--adapter', 'caddyfile'], ports.proxy, env);
  },
};

const TRAEFIK_VERSION = 'v3.7.9';
const traefikBinary = () => process.env.TRAEFIK ?? join(cacheRoot, `traefik-${TRAEFIK_VERSION}`, 'traefik');
const TRAEFIK_STATIC = 'examples/traefik/traefik.yaml';
const TRAEFIK_DYNAMIC = 'examples/traefik/dynamic.yaml';

const traefik: DifferentialProxy = {
  name: 'traefik',
  http2: false,
  unavailable: () => {
    const missing = [TRAEFIK_STATIC, TRAEFIK_DYNAMIC].filter((file) => !existsSync(join(projectRoot, file)));
    if (missing.length > 0) return `no shipped Traefik file-provider config (${missing.join(', ')})`;
    return existsSync(traefikBinary()) ? undefined : `Traefik ${TRAEFIK_VERSION} is not built at ${traefikBinary()}`;
  },
  start: async (ports, dir) => {
    const dynamic = join(dir, 'dynamic.yaml');
    writeFileSync(dynamic, stringifyYaml(traefikDynamic(readYaml(TRAEFIK_DYNAMIC), ports)));
    const config = join(dir, 'traefik.yaml');
    writeFileSync(config, stringifyYaml(traefikStatic(readYaml(TRAEFIK_STATIC), ports.proxy, dynamic)));
    const running = await startProxy(traefikBinary(), [`--configFile=${config}`], ports.proxy);
    await untilRouted(ports.proxy, running);
    return running;
  },
};

/**
 * Traefik listens before its file provider has loaded the routers, and answers 404 until then:
 * ready once a request is routed (the authorizer's 401, with no session).
 */
async function untilRouted(port: number, running: ProxyProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answer = await fetch(`http://127.0.0.1:${port}/`, { headers: { accept: 'application/json' } }).catch(
      () => undefined,
    );
    if (answer !== undefined && answer.status !== 404) return;
    if (Date.now() > deadline) {
      await running.stop();
      throw new Error(`Traefik routed nothing within 15 s:\n${running.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function readYaml(path: string): JsonObject {
  const parsed = parseYaml(readFileSync(join(projectRoot, path), 'utf8')) as Json;
  if (!isObject(parsed)) throw new Error(`${path} must be a mapping`);
  return parsed;
}

function mapping(value: Json | undefined, what: string): JsonObject {
  if (!isObject(value)) throw new Error(`${what} must be a mapping`);
  return value;
}

/** The static config with its one entry point on the proxy port and the file provider on `dynamic`. */
function traefikStatic(config: JsonObject, port: number, dynamic: string): JsonObject {
  const entryPoints = Object.values(mapping(config.entryPoints, `${TRAEFIK_STATIC} entryPoints`));
  if (entryPoints.length !== 1) throw new Error(`${TRAEFIK_STATIC} must have exactly one entry point`);
  mapping(entryPoints[0], 'the entry point').address = `127.0.0.1:${port}`;
  mapping(config.providers, `${TRAEFIK_STATIC} providers`).file = { filename: dynamic, watch: false };
  return config;
}

/** The dynamic config with every service on the app and every forwardAuth on the service's front door (path kept). */
function traefikDynamic(config: JsonObject, ports: Ports): JsonObject {
  const http = mapping(config.http, `${TRAEFIK_DYNAMIC} http`);
  let authorizers = 0;
  for (const middleware of Object.values(mapping(http.middlewares, 'http.middlewares'))) {
    const forwardAuth = mapping(middleware, 'a middleware').forwardAuth;
    if (!isObject(forwardAuth) || typeof forwardAuth.address !== 'string') continue;
    const address = new URL(forwardAuth.address);
    address.host = `127.0.0.1:${ports.httpAuthz}`;
    forwardAuth.address = address.toString();
    authorizers += 1;
  }
  if (authorizers === 0) throw new Error(`${TRAEFIK_DYNAMIC} has no forwardAuth middleware`);
  for (const service of Object.values(mapping(http.services, 'http.services'))) {
    const balancer = mapping(mapping(service, 'a service').loadBalancer, 'service.loadBalancer');
    balancer.servers = [{ url: `http://127.0.0.1:${ports.app}` }];
  }
  return config;
}

export const PROXIES: readonly DifferentialProxy[] = [envoyGrpc, envoyHttp, nginx, caddy, traefik];
