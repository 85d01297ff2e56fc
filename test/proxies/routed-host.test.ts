/**
 * Issue 18, finding 2, through every real proxy: each shipped front-door config, grown to two
 * virtual hosts (one per app, as an operator would), must have the authorizer decide about the
 * host the proxy routed on. See support/routed-host.ts for the requests.
 */
import assert from 'node:assert/strict';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { envoyConfig, httpConnectionManager, isObject, type Json, type JsonObject } from '../../stack/configs';
import { pinnedVersions } from '../../stack/versions';
import {
  caddyUnavailable,
  envoyUnavailable,
  nginxUnavailable,
  startCaddy,
  startEnvoy,
  startNginx,
} from './support/launch';
import { freePort, renderExample } from './support/proxy-process';
import { ADMIN_HOST, routedHostSuite, type RoutedPorts } from './support/routed-host';

/** `text` with `from` replaced by `to`; `from` must be there, so a reshaped example fails loudly. */
function replaced(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `the rendered config has "${from}"`);
  return text.replace(from, to);
}

/**
 * examples/nginx/nginx.conf's server block twice: first as it ships (the default server, for
 * every host without a server block of its own), then for ADMIN_HOST in front of the admin app.
 */
function nginxConfig(ports: RoutedPorts): string {
  const listen = `listen 127.0.0.1:${ports.proxy};`;
  const text = renderExample('examples/nginx/nginx.conf', [
    ['server 127.0.0.1:9193;', `server 127.0.0.1:${ports.authzHttp};`],
    ['server 127.0.0.1:3000;', `server 127.0.0.1:${ports.app};`],
    ['listen 8080;', listen],
  ]);
  const start = text.indexOf('\n  server {');
  const end = text.lastIndexOf('\n  }') + '\n  }'.length;
  assert.ok(start > 0 && end > start, 'nginx.conf has one server block at the end of http {}');
  const block = text.slice(start, end);
  let admin = replaced(block, listen, `${listen}\n    server_name ${ADMIN_HOST};`);
  admin = replaced(admin, 'proxy_pass http://app;', 'proxy_pass http://admin_app;');
  const upstream = `\n  upstream admin_app {\n    server 127.0.0.1:${ports.admin};\n  }`;
  return `${text.slice(0, start)}${upstream}${block}${admin}${text.slice(end)}`;
}

/**
 * The same, with the auth location as ingress-nginx's template writes it: X-Original-URL and the
 * app's Host from the client's Host ($http_host), which it cannot change without snippets, plus
 * the X-Original-Host: $host of examples/kubernetes/ingress-nginx-auth-headers.yaml.
 */
function ingressNginxConfig(ports: RoutedPorts): string {
  let text = nginxConfig(ports);
  for (const [from, to] of [
    [
      'X-Original-URL $scheme://$host$kratos_host_port$request_uri;',
      'X-Original-URL $scheme://$http_host$request_uri;',
    ],
    ['proxy_set_header Host $host$kratos_host_port;', 'proxy_set_header Host $http_host;'],
  ] as const) {
    assert.ok(text.includes(from), `the rendered config has "${from}"`);
    text = text.replaceAll(from, to);
  }
  return text;
}

/** examples/caddy/Caddyfile's site twice: `:port` for every host, and ADMIN_HOST in front of the admin app. */
function caddyConfig(ports: RoutedPorts): string {
  const text = renderExample('examples/caddy/Caddyfile', [
    ['forward_auth 127.0.0.1:9193 {', `forward_auth 127.0.0.1:${ports.authzHttp} {`],
    ['reverse_proxy 127.0.0.1:3000', `reverse_proxy 127.0.0.1:${ports.app}`],
    [':8080 {', `:${ports.proxy} {`],
  ]);
  const start = text.indexOf(`\n:${ports.proxy} {`);
  assert.ok(start > 0, 'the Caddyfile has its site block after the global options');
  const site = text.slice(start);
  const admin = replaced(
    replaced(site, `\n:${ports.proxy} {`, `\nhttp://${ADMIN_HOST}:${ports.proxy} {`),
    `reverse_proxy 127.0.0.1:${ports.app}`,
    `reverse_proxy 127.0.0.1:${ports.admin}`,
  );
  return `${text}${admin}`;
}

function mapping(value: Json | undefined, what: string): JsonObject {
  assert.ok(isObject(value), `${what} is a mapping`);
  return value;
}

function listOf(value: Json | undefined, what: string): Json[] {
  assert.ok(Array.isArray(value), `${what} is a list`);
  return value;
}

/**
 * An Envoy config's only virtual host, cloned for ADMIN_HOST with its routes to `cluster` sent
 * to a copy of that cluster at the admin app. The original stays the "*" virtual host.
 */
function withAdminVirtualHost(config: JsonObject, cluster: string, adminPort: number): JsonObject {
  const routeConfig = mapping(httpConnectionManager(config).route_config, 'route_config');
  const virtualHosts = listOf(routeConfig.virtual_hosts, 'virtual_hosts');
  assert.equal(virtualHosts.length, 1, 'the shipped config has one virtual host');
  const admin = mapping(structuredClone(virtualHosts[0]), 'virtual host');
  admin.name = 'admin';
  admin.domains = [ADMIN_HOST];
  for (const route of listOf(admin.routes, 'routes')) {
    const action = mapping(route, 'route').route;
    if (isObject(action) && action.cluster === cluster) action.cluster = `admin_${cluster}`;
  }
  virtualHosts.push(admin);
  const clusters = listOf(mapping(config.static_resources, 'static_resources').clusters, 'clusters');
  const copy = mapping(structuredClone(clusters.find((c) => isObject(c) && c.name === cluster)), `cluster ${cluster}`);
  copy.name = `admin_${cluster}`;
  const assignment = mapping(copy.load_assignment, 'load_assignment');
  assignment.cluster_name = copy.name;
  const endpoint = mapping(
    mapping(
      listOf(mapping(listOf(assignment.endpoints, 'endpoints')[0], 'endpoints[0]').lb_endpoints, 'lb_endpoints')[0],
      'lb_endpoint',
    ).endpoint,
    'endpoint',
  );
  mapping(mapping(endpoint.address, 'address').socket_address, 'socket_address').port_value = adminPort;
  clusters.push(copy);
  return config;
}

/** examples/envoy-http/envoy.yaml (ext_authz http_service) with the admin virtual host. */
function envoyHttpConfig(ports: RoutedPorts): string {
  const text = renderExample('examples/envoy-http/envoy.yaml', [
    ['address: 0.0.0.0, port_value: 8080', `address: 127.0.0.1, port_value: ${ports.proxy}`],
    ['uri: "http://127.0.0.1:9193"', `uri: "http://127.0.0.1:${ports.authzHttp}"`],
    ['address: 127.0.0.1, port_value: 9193', `address: 127.0.0.1, port_value: ${ports.authzHttp}`],
    ['address: 127.0.0.1, port_value: 3000', `address: 127.0.0.1, port_value: ${ports.app}`],
  ]);
  return stringifyYaml(withAdminVirtualHost(mapping(parseYaml(text) as Json, 'envoy.yaml'), 'app', ports.admin));
}

/** envoy/envoy.yaml (ext_authz gRPC) on loopback (as the local stack renders it) with the admin virtual host. */
async function envoyGrpcConfig(ports: RoutedPorts): Promise<string> {
  const unused = await freePort();
  const stackPorts = {
    envoy: ports.proxy,
    envoyAdmin: await freePort(),
    kratosPublic: unused,
    kratosAdmin: unused,
    extAuthzGrpc: ports.authzGrpc,
    extAuthzHttp: ports.authzHttp,
    upstream: ports.app,
    ui: unused,
  };
  return stringifyYaml(envoyConfig(stackPorts, (config) => withAdminVirtualHost(config, 'upstream', ports.admin)));
}

routedHostSuite({
  name: 'nginx',
  http2: false,
  unavailable: nginxUnavailable,
  start: (ports, dir) => startNginx(nginxConfig(ports), ports.proxy, dir),
});
routedHostSuite({
  name: 'nginx as ingress-nginx',
  http2: false,
  unavailable: nginxUnavailable,
  start: (ports, dir) => startNginx(ingressNginxConfig(ports), ports.proxy, dir),
});
routedHostSuite({
  name: 'caddy',
  http2: false,
  unavailable: caddyUnavailable,
  start: (ports, dir) => startCaddy(caddyConfig(ports), ports.proxy, dir),
});
for (const version of pinnedVersions().envoy) {
  const unavailable = () => envoyUnavailable(version);
  routedHostSuite({
    name: `envoy-${version} http_service`,
    http2: true,
    unavailable,
    start: (ports, dir) => startEnvoy(version, envoyHttpConfig(ports), ports.proxy, dir),
  });
  routedHostSuite({
    name: `envoy-${version} grpc`,
    http2: true,
    unavailable,
    start: async (ports, dir) => startEnvoy(version, await envoyGrpcConfig(ports), ports.proxy, dir),
  });
}
