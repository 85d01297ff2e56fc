// The e2e Stack as containers: the demo stack of envoy/docker-compose.yml with testcontainers: Kratos (SQLite,
// migrated first), the echo upstream, kratos-ext-authz built from the project's Dockerfile, and
// Envoy with envoy/envoy.yaml. The containers get the compose service names as network aliases,
// which are the hostnames envoy.yaml and envoy/config.yaml use, and the image tags are read from
// docker-compose.yml so the tests and the demo run the same versions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  GenericContainer,
  getReaper,
  LABEL_TESTCONTAINERS_SESSION_ID,
  Network,
  randomUuid,
  Wait,
  type ContainerRuntimeClient,
  type StartedNetwork,
  type StartedTestContainer,
} from 'testcontainers';
import { parse as parseYaml } from 'yaml';
import type { Stack } from './stack';
import { pollUntilOk } from '../../stack/local-stack';
import { disableRyukWithoutItsImage, dockerfileBuildArgs } from '../containers/offline-images';

export function findProjectRoot(): string {
  for (let dir = __dirname; ; dir = join(dir, '..')) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'kratos-ext-authz') return dir;
    } catch {
      // keep walking up
    }
    if (join(dir, '..') === dir) throw new Error(`package.json of kratos-ext-authz not found above ${__dirname}`);
  }
}

const root = findProjectRoot();
const envoyDir = join(root, 'envoy');

interface ComposeFile {
  services: Record<string, { image?: string }>;
}

/** The pinned image of a docker-compose.yml service. */
export function composeImage(service: string): string {
  const compose = parseYaml(readFileSync(join(envoyDir, 'docker-compose.yml'), 'utf8')) as ComposeFile;
  const image = compose.services[service]?.image;
  if (!image || !/:v?\d+\.\d+\.\d+/.test(image)) throw new Error(`docker-compose.yml service ${service} has no pinned image`);
  return image;
}

interface ServiceConfigFile {
  kratos: { browser_url: string };
}

/** kratos.browser_url from envoy/config.yaml: the prefix of every login redirect. */
export function browserUrl(): string {
  const config = parseYaml(readFileSync(join(envoyDir, 'config.yaml'), 'utf8')) as ServiceConfigFile;
  return config.kratos.browser_url.replace(/\/+$/, '');
}

const KRATOS_DSN = 'sqlite:///var/lib/sqlite/db.sqlite?_fk=true&mode=rwc';
const KRATOS_CONFIG = '/etc/config/kratos/kratos.yml';
const STARTUP_TIMEOUT_MS = 180_000;

export async function startContainerStack(client: ContainerRuntimeClient): Promise<Stack> {
  const logs = new Map<string, string[]>();
  const cleanups: (() => Promise<unknown>)[] = [];
  const collect = (name: string) => (stream: Readable) => {
    const lines: string[] = [];
    logs.set(name, lines);
    stream.on('data', (chunk: Buffer | string) => lines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
  };
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    cleanups.length = 0;
  };

  try {
    // Before anything testcontainers starts: each of them starts the reaper first.
    await disableRyukWithoutItsImage(client);
    const network: StartedNetwork = await new Network().start();
    cleanups.push(() => network.stop());

    // A named volume shared by the one-shot migration and the Kratos server, as in
    // docker-compose.yml; labelled so testcontainers' reaper removes it if this process dies.
    const reaper = await getReaper(client);
    const volume = `kratos-ext-authz-e2e-${randomUuid().slice(0, 12)}`;
    await client.container.dockerode.createVolume({ Name: volume, Labels: { [LABEL_TESTCONTAINERS_SESSION_ID]: reaper.sessionId } });
    cleanups.push(() => client.container.dockerode.getVolume(volume).remove());

    const kratosImage = composeImage('kratos');
    const kratosFiles = [
      { source: join(envoyDir, 'kratos', 'kratos.yml'), target: KRATOS_CONFIG },
      { source: join(envoyDir, 'kratos', 'identity.schema.json'), target: '/etc/config/kratos/identity.schema.json' },
    ];
    const kratosBase = () =>
      new GenericContainer(kratosImage)
        .withCopyFilesToContainer(kratosFiles)
        .withEnvironment({ DSN: KRATOS_DSN })
        .withBindMounts([{ source: volume, target: '/var/lib/sqlite', mode: 'rw' }])
        .withStartupTimeout(STARTUP_TIMEOUT_MS);

    const migrate = await kratosBase()
      .withCommand(['migrate', 'sql', '-e', '--yes', '-c', KRATOS_CONFIG])
      .withLogConsumer(collect('kratos-migrate'))
      .withWaitStrategy(Wait.forOneShotStartup())
      .start();
    cleanups.push(() => migrate.stop());

    // Kratos, the upstream and the service image are independent: start/build them together.
    const [kratos, upstream, ui, serviceImage] = await Promise.all([
      kratosBase()
        .withNetwork(network)
        .withNetworkAliases('kratos')
        .withCommand(['serve', '-c', KRATOS_CONFIG, '--dev'])
        .withExposedPorts(4434)
        .withLogConsumer(collect('kratos'))
        .withWaitStrategy(Wait.forHttp('/health/ready', 4434).forStatusCode(200))
        .start(),
      new GenericContainer(composeImage('upstream'))
        .withNetwork(network)
        .withNetworkAliases('upstream')
        .withCopyFilesToContainer([{ source: join(envoyDir, 'echo', 'server.js'), target: '/srv/echo/server.js' }])
        .withEnvironment({ PORT: '8000' })
        .withUser('node')
        .withCommand(['node', '/srv/echo/server.js'])
        .withLogConsumer(collect('upstream'))
        .withWaitStrategy(Wait.forLogMessage(/echo upstream listening/))
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
        .start(),
      new GenericContainer(composeImage('ui'))
        .withNetwork(network)
        .withNetworkAliases('ui')
        .withCopyFilesToContainer([{ source: join(envoyDir, 'ui', 'server.js'), target: '/srv/ui/server.js' }])
        .withEnvironment({ PORT: '4455', KRATOS_PUBLIC_URL: 'http://kratos:4433' })
        .withUser('node')
        .withCommand(['node', '/srv/ui/server.js'])
        .withLogConsumer(collect('ui'))
        .withWaitStrategy(Wait.forLogMessage(/demo ui listening/))
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
        .start(),
      GenericContainer.fromDockerfile(root)
        .withBuildArgs(await dockerfileBuildArgs(client, root))
        .build(),
    ]);
    cleanups.push(() => kratos.stop(), () => upstream.stop(), () => ui.stop());

    let extAuthz: StartedTestContainer | undefined = await serviceImage
      .withNetwork(network)
      .withNetworkAliases('ext-authz')
      .withCopyFilesToContainer([{ source: join(envoyDir, 'config.yaml'), target: '/etc/kratos-ext-authz/config.yaml' }])
      .withExposedPorts(9192)
      .withLogConsumer(collect('ext-authz'))
      // /readyz: both servers listen and Kratos answered /health/ready.
      .withWaitStrategy(Wait.forHttp('/readyz', 9192).forStatusCode(200))
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .start();
    cleanups.push(async () => extAuthz?.stop());

    const envoy = await new GenericContainer(composeImage('envoy'))
      .withNetwork(network)
      .withNetworkAliases('envoy')
      .withCopyFilesToContainer([{ source: join(envoyDir, 'envoy.yaml'), target: '/etc/envoy/envoy.yaml' }])
      .withExposedPorts(8080)
      .withLogConsumer(collect('envoy'))
      .withWaitStrategy(Wait.forLogMessage(/starting main dispatch loop/))
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .start();
    cleanups.push(() => envoy.stop());

    const baseUrl = `http://${envoy.getHost()}:${envoy.getMappedPort(8080)}`;
    // Envoy resolves its STRICT_DNS clusters asynchronously: wait until both paths work, the
    // Kratos route (no ext_authz) and an anonymous app route (ext_authz -> upstream).
    // Containers are polled more gently than local processes.
    await pollUntilOk(`${baseUrl}/self-service/login/api`, 60_000, undefined, 500);
    await pollUntilOk(`${baseUrl}/health`, 60_000, undefined, 500);

    return {
      description: `containers of envoy/docker-compose.yml (${composeImage('envoy')}, ${kratosImage})`,
      baseUrl,
      browserUrl: browserUrl(),
      kratosAdminUrl: `http://${kratos.getHost()}:${kratos.getMappedPort(4434)}`,
      logs,
      stopExtAuthz: async (graceMs) => {
        const running = extAuthz;
        if (!running) throw new Error('kratos-ext-authz is already stopped');
        extAuthz = undefined;
        await running.stop({ timeout: graceMs, remove: false });
        const container = client.container.getById(running.getId());
        const state = (await client.container.inspect(container)).State;
        await client.container.remove(container, { removeVolumes: true });
        return state.ExitCode;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { stackLogs: logs });
  }
}
