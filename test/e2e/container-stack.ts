// The e2e Stack as containers: the images of envoy/docker-compose.yml (Envoy, Kratos, the Node
// image for the echo upstream and the login UI) and the product image built from the Dockerfile
// (e2e-image.ts), started with testcontainers. The containers of one stack share one network
// namespace, a "pod" (pod-configs.ts), so the configurations generated for the process stack
// work with only their listen addresses changed, and every port is chosen, and published under
// the same number, before the first container starts. Every container and the Kratos volume
// carry a label naming the stack; stop() removes them and fails if any is left.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  GenericContainer,
  ImageName,
  Wait,
  type ContainerRuntimeClient,
  type StartedTestContainer,
} from 'testcontainers';
import { parse as parseYaml } from 'yaml';
import { toYaml, type JsonObject, type StackPorts } from '../../stack/configs';
import { EXT_AUTHZ, KRATOS, ENVOY, UI, UPSTREAM, pollUntilOk } from '../../stack/local-stack';
import { freePorts } from '../../stack/ports';
import { disableRyukWithoutItsImage } from '../containers/offline-images';
import { e2eImage } from './e2e-image';
import { hostFilesNamedIn, podConfigs } from './pod-configs';
import type { Stack, StackFactory, StackPlan, Variant } from './stack';

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
  if (!image || !/:v?\d+\.\d+\.\d+/.test(image))
    throw new Error(`docker-compose.yml service ${service} has no pinned image`);
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

const tagOf = (image: string): string => image.slice(image.lastIndexOf(':') + 1);

/** The label every container and volume of a container stack carries; its value names the stack. */
export const STACK_LABEL = 'kratos-ext-authz.e2e-stack';
const POD = 'pod';
const MIGRATE = 'kratos-migrate';
const TWIN = 'kratos-twin';
const KRATOS_CONFIG = '/etc/config/kratos/kratos.yml';
const SERVICE_CONFIG = '/etc/kratos-ext-authz/config.yaml';
const ENVOY_CONFIG = '/etc/envoy/envoy.yaml';
const KRATOS_DATA = '/var/lib/sqlite';
const KRATOS_DSN = `sqlite://${KRATOS_DATA}/db.sqlite?_fk=true&mode=rwc`;
const STARTUP_TIMEOUT_MS = 180_000;
/** The published ports as the test process reaches them (a local daemon). */
const HOST = '127.0.0.1';

/** Where containers on Docker's default bridge reach this machine: the bridge's gateway. */
async function bridgeGateway(client: ContainerRuntimeClient): Promise<string> {
  const bridge = (await client.container.dockerode.getNetwork('bridge').inspect()) as {
    IPAM?: { Config?: { Gateway?: string }[] };
  };
  const gateway = bridge.IPAM?.Config?.find((config) => config.Gateway)?.Gateway;
  if (!gateway) throw new Error("Docker's bridge network has no gateway address");
  return gateway;
}

export async function containerStackFactory(client: ContainerRuntimeClient): Promise<StackFactory> {
  const hostAddress = await bridgeGateway(client);
  const envoyVersion = tagOf(composeImage('envoy')).replace(/^v/, '');
  const kratosVersion = tagOf(composeImage('kratos'));
  return {
    kind: 'container',
    // The compose file pins one Envoy: the process stack covers the other pinned versions.
    envoyVersions: [envoyVersion],
    kratosVersion,
    hostAddress,
    plan: (version, variant): StackPlan => {
      if (version !== envoyVersion)
        throw new Error(`the container stack runs envoy ${envoyVersion} (docker-compose.yml), not ${version}`);
      const description = `envoy ${envoyVersion} (container), kratos ${kratosVersion} (container)${variant ? `; ${variant.name}` : ''}`;
      return { description, start: () => startContainerStack(client, description, hostAddress, variant) };
    },
  };
}

interface PodPorts extends StackPorts {
  twinPublic: number;
  twinAdmin: number;
}

async function podPorts(variant: Variant | undefined): Promise<PodPorts> {
  const free = await freePorts(10);
  const take = (): number => free.shift() ?? 0;
  const given = variant?.ports ?? {};
  return {
    envoy: given.envoy ?? take(),
    envoyAdmin: given.envoyAdmin ?? take(),
    kratosPublic: given.kratosPublic ?? take(),
    kratosAdmin: given.kratosAdmin ?? take(),
    extAuthzGrpc: given.extAuthzGrpc ?? take(),
    extAuthzHttp: given.extAuthzHttp ?? take(),
    upstream: given.upstream ?? take(),
    ui: given.ui ?? take(),
    twinPublic: take(),
    twinAdmin: take(),
  };
}

/** A file for a container: given content, read-only for every user of the image. */
const fileFor = (target: string, content: string | Buffer) => ({ target, content, mode: 0o444 });
/** Host files a configuration names, at the same paths in the container. */
const namedFiles = (config: JsonObject) => hostFilesNamedIn(config).map((path) => fileFor(path, readFileSync(path)));

/**
 * Log lines per container, kept across a container's restart; `ended` names the containers whose
 * log stream ended (they stopped).
 */
class ContainerLogs {
  readonly lines = new Map<string, string[]>();
  readonly ended = new Set<string>();

  consumer(name: string): (stream: Readable) => void {
    return (stream) => {
      const lines = this.lines.get(name) ?? [];
      this.lines.set(name, lines);
      this.ended.delete(name);
      let partial = '';
      stream.on('data', (chunk: Buffer | string) => {
        const split = (partial + chunk.toString()).split('\n');
        partial = split.pop() ?? '';
        lines.push(...split.filter((line) => line !== ''));
      });
      stream.on('end', () => {
        if (partial !== '') lines.push(partial);
        this.ended.add(name);
      });
    };
  }

  /** For pollUntilOk: throws once `name` has stopped, when waiting for it is pointless. */
  running(name: string): () => void {
    return () => {
      if (this.ended.has(name)) throw new Error(`container ${name} exited`);
    };
  }
}

async function startContainerStack(
  client: ContainerRuntimeClient,
  description: string,
  hostAddress: string,
  variant: Variant | undefined,
): Promise<Stack> {
  // Before anything testcontainers starts: each of them starts the reaper first.
  await disableRyukWithoutItsImage(client);
  const id = randomUUID().slice(0, 12);
  const labels = { [STACK_LABEL]: id };
  const logs = new ContainerLogs();
  const started = new Map<string, StartedTestContainer>();
  const volume = `kratos-ext-authz-e2e-${id}`;
  const docker = client.container.dockerode;

  const stop = async (): Promise<void> => {
    // Reverse start order, the pod (whose network namespace the others use) last; forced: the
    // graceful stop is what stopExtAuthz tests, here only the leftovers matter.
    for (const container of [...started.values()].reverse())
      await docker
        .getContainer(container.getId())
        .remove({ force: true, v: true })
        .catch(() => undefined);
    started.clear();
    await docker
      .getVolume(volume)
      .remove()
      .catch(() => undefined);
    const left = await leftovers(client, id);
    if (left.length > 0) throw new Error(`the container stack ${id} left ${left.join(', ')} behind`);
  };

  try {
    const ports = await podPorts(variant);
    const configs = podConfigs(ports, variant, hostAddress);
    const [serviceImage] = await Promise.all([
      e2eImage(client, root),
      docker.createVolume({ Name: volume, Labels: labels }),
    ]);
    const published = [
      ports.envoy,
      ports.envoyAdmin,
      ports.kratosPublic,
      ports.kratosAdmin,
      ports.extAuthzHttp,
      ports.twinPublic,
      ports.twinAdmin,
    ];

    // The pod: holds the network namespace and the published ports; Node's image is one the stack has anyway.
    started.set(
      POD,
      await new GenericContainer(composeImage('upstream'))
        .withLabels(labels)
        .withExposedPorts(...published.map((port) => ({ container: port, host: port })))
        .withCommand([
          'node',
          '-e',
          "process.on('SIGTERM', () => process.exit(0)); console.log('pod up'); setInterval(() => {}, 2 ** 30)",
        ])
        .withLogConsumer(logs.consumer(POD))
        .withWaitStrategy(Wait.forLogMessage('pod up'))
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
        .start(),
    );
    const pod = started.get(POD)?.getId() ?? '';
    const inPod = (name: string, image: string): GenericContainer =>
      new GenericContainer(image)
        .withNetworkMode(`container:${pod}`)
        .withLabels(labels)
        .withLogConsumer(logs.consumer(name))
        .withStartupTimeout(STARTUP_TIMEOUT_MS);
    const run = async (name: string, container: GenericContainer): Promise<void> => {
      started.set(name, await container.start());
    };

    const kratosImage = composeImage('kratos');
    const kratosFiles = [fileFor(KRATOS_CONFIG, toYaml(configs.kratos)), ...namedFiles(configs.kratos)];
    const kratosEnv = { DSN: KRATOS_DSN, ...variant?.kratosEnv };
    const kratos = (name: string, env: Record<string, string>, flags: readonly string[] = []): GenericContainer =>
      inPod(name, kratosImage)
        .withCopyContentToContainer(kratosFiles)
        .withEnvironment(env)
        .withBindMounts([{ source: volume, target: KRATOS_DATA, mode: 'rw' }])
        .withCommand(['serve', '-c', KRATOS_CONFIG, '--dev', ...flags]);
    await run(
      MIGRATE,
      kratos(MIGRATE, kratosEnv)
        .withCommand(['migrate', 'sql', '-e', '--yes', '-c', KRATOS_CONFIG])
        .withWaitStrategy(Wait.forOneShotStartup()),
    );

    const nodeImage = composeImage('upstream');
    const nodeServer = (name: string, script: string, env: Record<string, string>): GenericContainer =>
      inPod(name, nodeImage)
        .withCopyContentToContainer([
          fileFor(`/srv/${name}/server.js`, readFileSync(join(envoyDir, script, 'server.js'))),
        ])
        .withEnvironment(env)
        .withUser('node')
        .withCommand(['node', `/srv/${name}/server.js`]);
    await Promise.all([
      run(KRATOS, kratos(KRATOS, kratosEnv, variant?.kratosServeFlags)),
      run(
        UPSTREAM,
        nodeServer(UPSTREAM, 'echo', { PORT: String(ports.upstream) }).withWaitStrategy(
          Wait.forLogMessage(/echo upstream listening/),
        ),
      ),
      run(
        UI,
        nodeServer(UI, 'ui', {
          PORT: String(ports.ui),
          KRATOS_PUBLIC_URL: `http://127.0.0.1:${ports.kratosPublic}`,
        }).withWaitStrategy(Wait.forLogMessage(/demo ui listening/)),
      ),
    ]);
    const kratosPublicUrl = `http://${HOST}:${ports.kratosPublic}`;
    const kratosReady = (): Promise<void> =>
      pollUntilOk(`${kratosPublicUrl}/health/ready`, STARTUP_TIMEOUT_MS, logs.running(KRATOS), 500);
    await kratosReady();

    await run(
      EXT_AUTHZ,
      inPod(EXT_AUTHZ, serviceImage).withCopyContentToContainer([
        fileFor(SERVICE_CONFIG, toYaml(configs.service)),
        ...namedFiles(configs.service),
      ]),
    );
    const extAuthzOpsUrl = `http://${HOST}:${ports.extAuthzHttp}`;
    // /readyz: both servers listen and Kratos answered /health/ready.
    await pollUntilOk(`${extAuthzOpsUrl}/readyz`, STARTUP_TIMEOUT_MS, logs.running(EXT_AUTHZ), 500);

    await run(
      ENVOY,
      inPod(ENVOY, composeImage('envoy'))
        .withCopyContentToContainer([fileFor(ENVOY_CONFIG, toYaml(configs.envoy))])
        // As the process stack runs it: one worker, the access log flushed often.
        .withCommand([
          'envoy',
          '-c',
          ENVOY_CONFIG,
          '--concurrency',
          '1',
          '--file-flush-interval-msec',
          '200',
          '--log-level',
          'warn',
        ]),
    );
    await pollUntilOk(`http://${HOST}:${ports.envoyAdmin}/ready`, STARTUP_TIMEOUT_MS, logs.running(ENVOY), 500);
    const baseUrl = `http://${variant?.publicHost ?? HOST}:${ports.envoy}`;
    // Both paths through Envoy: a Kratos route (no ext_authz) and an anonymous app route.
    await pollUntilOk(`${baseUrl}/self-service/login/api`, STARTUP_TIMEOUT_MS, logs.running(ENVOY), 500);
    await pollUntilOk(`${baseUrl}/health`, STARTUP_TIMEOUT_MS, logs.running(ENVOY), 500);

    const containerOf = (name: string) => {
      const container = started.get(name);
      if (!container) throw new Error(`no ${name} container`);
      return docker.getContainer(container.getId());
    };
    return {
      description,
      baseUrl,
      browserUrl: baseUrl,
      kratosAdminUrl: `http://${HOST}:${ports.kratosAdmin}`,
      kratosPublicUrl,
      extAuthzOpsUrl,
      logs: logs.lines,
      stopExtAuthz: async (graceMs) => {
        const container = containerOf(EXT_AUTHZ);
        await container.stop({ t: Math.ceil(graceMs / 1000) });
        return (await container.inspect()).State.ExitCode;
      },
      stopKratos: async () => {
        await containerOf(KRATOS).stop();
      },
      startKratos: async () => {
        const container = containerOf(KRATOS);
        await container.start();
        logs.consumer(KRATOS)(
          await client.container.logs(client.container.getById(container.id), {
            since: Math.floor(Date.now() / 1000) - 1,
          }),
        );
        await kratosReady();
      },
      startTwinKratos: async (env) => {
        if (started.has(TWIN))
          throw new Error('a container stack has room for one twin Kratos (its ports are published up front)');
        await run(
          TWIN,
          kratos(TWIN, {
            ...kratosEnv,
            ...env,
            SERVE_PUBLIC_PORT: String(ports.twinPublic),
            SERVE_ADMIN_PORT: String(ports.twinAdmin),
          }),
        );
        const url = `http://${HOST}:${ports.twinPublic}`;
        await pollUntilOk(`${url}/health/ready`, STARTUP_TIMEOUT_MS, logs.running(TWIN), 500);
        return url;
      },
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    const reason = error instanceof Error ? error : new Error(String(error));
    const absent = await absentImages(client);
    if (absent.length > 0)
      reason.message += ` (images absent from the daemon: ${absent.join(', ')}; where no registry is reachable, bash scripts/container-images.sh builds them)`;
    throw Object.assign(reason, { stackLogs: logs.lines });
  }
}

/** The compose file's images the daemon does not have (testcontainers pulls them, if a registry answers). */
async function absentImages(client: ContainerRuntimeClient): Promise<string[]> {
  const images = ['envoy', 'kratos', 'upstream'].map(composeImage);
  const present = await Promise.all(images.map((image) => client.image.exists(ImageName.fromString(image))));
  return images.filter((_, index) => !present[index]);
}

/**
 * Containers and volumes of stack `id` still on the daemon (it creates no network: the pod is on
 * the default bridge).
 */
async function leftovers(client: ContainerRuntimeClient, id: string): Promise<string[]> {
  const docker = client.container.dockerode;
  const filters = { label: [`${STACK_LABEL}=${id}`] };
  const containers = await docker.listContainers({ all: true, filters });
  const volumes = (await docker.listVolumes({ filters })).Volumes ?? [];
  return [...containers.map((c) => `container ${c.Names.join(',')}`), ...volumes.map((v) => `volume ${v.Name}`)];
}
