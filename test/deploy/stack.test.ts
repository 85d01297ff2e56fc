// Static checks of the demo stack (envoy/docker-compose.yml, envoy/kratos/, envoy/config.yaml)
// and of the Dockerfile: the pieces must agree with each other and with envoy/envoy.yaml, which
// test/deploy/envoy-config.test.ts validates against Envoy's protos.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/load';
import {
  arr,
  at,
  type Json,
  type JsonObject,
  obj,
  portOf,
  projectRoot,
  readText,
  readYaml,
  str,
} from '../support/project-files';

const serviceConfigYaml = readYaml('envoy/config.yaml');
const kratosConfig = readYaml('envoy/kratos/kratos.yml');
const compose = obj(readYaml('envoy/docker-compose.yml'), 'docker-compose.yml');
const services = obj(compose.services, 'services');
const envoyConfig = readYaml('envoy/envoy.yaml');

function service(name: string): JsonObject {
  return obj(services[name], `compose service ${name}`);
}

function envoyClusterHosts(): Map<string, { host: string; port: number }> {
  const result = new Map<string, { host: string; port: number }>();
  for (const c of arr(at(envoyConfig, 'static_resources.clusters'), 'clusters')) {
    const cluster = obj(c, 'cluster');
    const lb = arr(
      obj(arr(at(cluster, 'load_assignment.endpoints'), 'endpoints')[0], 'endpoints[0]').lb_endpoints,
      'lb_endpoints',
    );
    const socket = obj(at(obj(lb[0], 'lb_endpoint'), 'endpoint.address.socket_address'), 'socket_address');
    result.set(str(cluster.name, 'cluster name'), {
      host: str(socket.address, 'address'),
      port: Number(socket.port_value),
    });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// envoy/config.yaml

test("envoy/config.yaml is accepted by the service's own config parser", () => {
  try {
    parseConfig(serviceConfigYaml, {});
  } catch (error) {
    assert.fail(error instanceof ConfigError ? error.message : String(error));
  }
});

test('envoy/config.yaml points at Kratos inside the stack and at Envoy for browsers', () => {
  const config = parseConfig(serviceConfigYaml, {});
  const clusters = envoyClusterHosts();
  const publicUrl = new URL(config.kratos.public_url);
  assert.deepEqual(clusters.get('kratos_public'), { host: publicUrl.hostname, port: Number(publicUrl.port) });
  assert.equal(new URL(config.kratos.admin_url).hostname, publicUrl.hostname);
  assert.equal(new URL(config.kratos.admin_url).port, '4434');
  // Browsers are sent to Kratos's login through Envoy's listener.
  assert.equal(new URL(config.kratos.browser_url).port, '8080');
  assert.equal(config.policy.cookie, 'highest_available');
  assert.equal(config.policy.token, 'aal1');
});

// ---------------------------------------------------------------------------------------------
// envoy/kratos/

test('kratos.yml: whoami requires only aal1, TOTP and password are enabled', () => {
  assert.equal(at(kratosConfig, 'session.whoami.required_aal'), 'aal1');
  assert.equal(at(kratosConfig, 'selfservice.methods.totp.enabled'), true);
  assert.equal(at(kratosConfig, 'selfservice.methods.password.enabled'), true);
  // The API registration flow returns a session token only with the session hook.
  const hooks = arr(at(kratosConfig, 'selfservice.flows.registration.after.password.hooks'), 'registration hooks');
  assert.ok(hooks.some((h) => obj(h, 'hook').hook === 'session'));
});

test('kratos.yml agrees with envoy/config.yaml (cookie name, public URL, return URLs, code MFA)', () => {
  const config = parseConfig(serviceConfigYaml, {});
  assert.equal(at(kratosConfig, 'session.cookie.name') ?? 'ory_kratos_session', config.kratos.session_cookie);
  const baseUrl = new URL(str(at(kratosConfig, 'serve.public.base_url'), 'serve.public.base_url'));
  assert.equal(
    baseUrl.origin,
    new URL(config.kratos.browser_url).origin,
    'Kratos is public where the service sends browsers',
  );
  const allowed = arr(at(kratosConfig, 'selfservice.allowed_return_urls'), 'allowed_return_urls').map(
    (u) => new URL(str(u, 'url')).origin,
  );
  assert.ok(allowed.includes(baseUrl.origin), 'return_to URLs of the app origin are allowed');
  assert.equal(at(kratosConfig, 'selfservice.methods.code.mfa_enabled') ?? false, config.kratos.code_mfa_enabled);
});

test('the identity schema is valid JSON with a password identifier and a TOTP account name', () => {
  const schemas = arr(at(kratosConfig, 'identity.schemas'), 'identity.schemas');
  const url = str(obj(schemas[0], 'schema').url, 'schema url');
  assert.match(url, /^file:\/\/\/etc\/config\/kratos\//);
  const file = join('envoy/kratos', url.slice('file:///etc/config/kratos/'.length));
  const schema = JSON.parse(readText(file)) as Json;
  const email = obj(at(schema, 'properties.traits.properties.email'), 'email trait');
  const credentials = obj(obj(email['ory.sh/kratos'], 'ory.sh/kratos').credentials, 'credentials');
  assert.equal(at(credentials, 'password.identifier'), true);
  assert.equal(at(credentials, 'totp.account_name'), true);
});

// ---------------------------------------------------------------------------------------------
// envoy/docker-compose.yml

test('compose: every Envoy cluster host is a compose service, ext-authz is built from the Dockerfile', () => {
  for (const [cluster, { host }] of envoyClusterHosts()) {
    assert.ok(host in services, `cluster ${cluster} host "${host}" is a compose service`);
  }
  const build = obj(service('ext-authz').build, 'ext-authz build');
  const context = resolve(projectRoot, 'envoy', str(build.context, 'build.context'));
  assert.equal(context, projectRoot);
  const dockerfile = str(build.dockerfile ?? 'Dockerfile', 'dockerfile');
  assert.ok(existsSync(join(context, dockerfile)));
  // Passed on from the environment (the offline build image): each must be an ARG of the Dockerfile.
  for (const arg of arr(build.args ?? [], 'build.args')) {
    assert.match(readText(dockerfile), new RegExp(`^ARG ${str(arg, 'build arg')}=`, 'm'));
  }
});

test('compose: Kratos is migrated (SQLite) before it serves', () => {
  const migrate = service('kratos-migrate');
  const kratos = service('kratos');
  assert.match(JSON.stringify(migrate.command), /"migrate","sql","-e","--yes"/);
  assert.match(JSON.stringify(kratos.command), /"serve"/);
  assert.equal(at(kratos, 'depends_on.kratos-migrate.condition'), 'service_completed_successfully');
  for (const s of [migrate, kratos]) {
    assert.match(str(at(s, 'environment.DSN'), 'DSN'), /^sqlite:\/\/\/var\/lib\/sqlite\//);
    assert.ok(arr(s.volumes, 'volumes').includes('kratos-sqlite:/var/lib/sqlite'));
  }
});

test('compose: images are pinned to exact versions', () => {
  for (const [name, value] of Object.entries(services)) {
    const image = obj(value, name).image;
    if (image === undefined) continue;
    const tag = str(image, `${name} image`).split(':')[1] ?? '';
    if (name === 'ext-authz') continue; // built locally
    assert.match(tag, /^v?\d+\.\d+\.\d+/, `${name} image "${String(image)}" has an exact version tag`);
  }
});

test('compose: mounted files exist and land where the containers read them', () => {
  const mounts = Object.values(services).flatMap((s) =>
    Array.isArray(obj(s, 'service').volumes) ? arr(obj(s, 'service').volumes, 'volumes') : [],
  );
  for (const mount of mounts) {
    const source = str(mount, 'volume').split(':')[0] ?? '';
    if (!source.startsWith('.')) continue; // named volume
    assert.ok(existsSync(join(projectRoot, 'envoy', source)), `${source} exists`);
  }
  assert.ok(
    arr(service('ext-authz').volumes, 'volumes').includes('./config.yaml:/etc/kratos-ext-authz/config.yaml:ro'),
  );
  assert.ok(arr(service('envoy').volumes, 'volumes').includes('./envoy.yaml:/etc/envoy/envoy.yaml:ro'));
  assert.ok(arr(service('kratos').volumes, 'volumes').includes('./kratos:/etc/config/kratos:ro'));
  assert.deepEqual(service('envoy').ports, ['127.0.0.1:8080:8080']);
  assert.equal(at(service('upstream'), 'environment.PORT'), String(envoyClusterHosts().get('upstream')?.port));
});

test('compose: the service gets longer to stop than its own shutdown_timeout', () => {
  const config = parseConfig(serviceConfigYaml, {});
  const grace = /^(\d+)s$/.exec(str(service('ext-authz').stop_grace_period, 'stop_grace_period'));
  assert.ok(grace);
  assert.ok(Number(grace[1]) * 1000 > config.server.shutdown_timeout);
});

// ---------------------------------------------------------------------------------------------
// Dockerfile

const dockerfile = readText('Dockerfile');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const finalStage = instructions.slice(instructions.map((l) => l.startsWith('FROM ')).lastIndexOf(true));

test('Dockerfile: multi-stage, production dependencies only in the final image', () => {
  assert.ok(instructions.filter((l) => l.startsWith('FROM ')).length >= 2, 'multi-stage');
  assert.ok(
    instructions.some((l) => /npm ci .*--omit=dev/.test(l)),
    'npm ci --omit=dev',
  );
  const copiedFromStages = finalStage.filter((l) => l.startsWith('COPY --from='));
  assert.ok(copiedFromStages.some((l) => /node_modules/.test(l)));
  assert.ok(copiedFromStages.some((l) => /dist\/src/.test(l)));
  // The Check messages have their own codec: nothing reads a .proto file at runtime.
  assert.ok(!finalStage.some((l) => /proto/.test(l)), 'the runtime ships no .proto files');
  assert.ok(
    finalStage.some((l) => /^COPY package\.json /.test(l)),
    'package.json says the compiled files are CommonJS',
  );
});

test('Dockerfile: non-root, node is PID 1 (exec form), ports 9191/9192/9193, health check', () => {
  const user = finalStage.filter((l) => l.startsWith('USER ')).pop();
  assert.ok(user && !/^USER (root|0)(:|$)/.test(user), 'runs as a non-root user');
  const entrypoint = finalStage.find((l) => l.startsWith('ENTRYPOINT '));
  assert.ok(entrypoint);
  assert.deepEqual(JSON.parse(entrypoint.slice('ENTRYPOINT '.length)), ['node', 'dist/src/main.js']);
  const expose = finalStage.find((l) => l.startsWith('EXPOSE '));
  assert.deepEqual(expose?.split(/\s+/).slice(1).sort(), ['9191', '9192', '9193']);
  assert.ok(finalStage.some((l) => l.startsWith('HEALTHCHECK ') && l.includes('/healthz')));
  const config = parseConfig(serviceConfigYaml, {});
  assert.equal(portOf(config.server.grpc_address), 9191);
  assert.equal(portOf(config.server.http_address), 9192);
  assert.equal(portOf(config.server.http_authz_address), 9193);
});

test('.dockerignore keeps node_modules, dist, tests and local files out of the build context', () => {
  const lines = readText('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  assert.equal(lines[0], '**', 'allow-list: everything is excluded first');
  const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  assert.deepEqual(allowed.sort(), ['package-lock.json', 'package.json', 'src', 'tsconfig.json']);
});
