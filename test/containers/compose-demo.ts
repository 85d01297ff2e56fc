/**
 * The compose demo (envoy/docker-compose.yml) started as its users start it, `docker compose up
 * --build`, under a project name of its own and with an override file, so runs never clash with
 * each other, with a demo already on 127.0.0.1:8080 or with the tests using kratos-ext-authz:dev.
 * It is handed to the e2e story as a StoryStack (test/e2e/stack.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntilOk } from '../../stack/local-stack';
import { browserUrl, findProjectRoot } from '../e2e/container-stack';
import type { StoryStack } from '../e2e/stack';
import { docker, dockerExitCode } from './docker';
import { offlineBuildImage } from './offline-images';

const ROOT = findProjectRoot();
const COMPOSE_FILE = join(ROOT, 'envoy', 'docker-compose.yml');
// Every port the demo publishes on the host, by service; the override publishes each on a free one.
const PUBLISHED = { kratos: 4434, 'ext-authz': 9192, envoy: 8080 } as const;
// Containers, a Kratos migration and Envoy's DNS on a machine shared with other test runs.
const WAIT_SECONDS = 180;

/** Why `docker compose` cannot run here, or undefined when it can. */
export async function missingCompose(): Promise<string | undefined> {
  return (await dockerExitCode('compose', 'version')) === 0
    ? undefined
    : 'no `docker compose` (Compose v2 CLI plugin): run scripts/install-compose.sh';
}

/** The image tag `up --build` gives the service in `project`, not the shared kratos-ext-authz:dev. */
export const serviceImage = (project: string): string => `kratos-ext-authz:${project}`;

/**
 * Every published port on a free loopback port (`!override` replaces the list instead of adding to
 * it) and the service's own image tag. Given the offline build image of scripts/container-images.sh,
 * the build gets it as BUILD_IMAGE and no network: all a machine without a registry can offer.
 */
function overrideFile(project: string, buildImage: string | undefined): string {
  const offline = buildImage ? `    build:\n      network: none\n      args: {BUILD_IMAGE: "${buildImage}"}\n` : '';
  const extra: Partial<Record<keyof typeof PUBLISHED, string>> = {
    'ext-authz': `    image: ${serviceImage(project)}\n${offline}`,
  };
  const services = Object.entries(PUBLISHED).map(
    ([service, port]) =>
      `  ${service}:\n    ports: !override\n      - "127.0.0.1::${port}"\n${extra[service as keyof typeof PUBLISHED] ?? ''}`,
  );
  return `services:\n${services.join('')}`;
}

/** What every compose resource of the project carries, for `docker ... ls --filter`. */
export const projectLabel = (project: string): string => `label=com.docker.compose.project=${project}`;

/** The project's containers, networks and volumes (by compose's label) and its service image. */
export async function projectResources(
  project: string,
): Promise<{ containers: string[]; networks: string[]; volumes: string[]; images: string[] }> {
  const list = async (...args: string[]) => (await docker(...args)).split('\n').filter((line) => line !== '');
  const [containers, networks, volumes, images] = await Promise.all([
    list('ps', '-a', '--format', '{{.Names}}', '--filter', projectLabel(project)),
    list('network', 'ls', '--format', '{{.Name}}', '--filter', projectLabel(project)),
    list('volume', 'ls', '--format', '{{.Name}}', '--filter', projectLabel(project)),
    list('image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${serviceImage(project)}`),
  ]);
  return { containers, networks, volumes, images };
}

export interface ComposeDemo extends StoryStack {
  project: string;
  /** From `docker compose up --build` to every service running, ext-authz healthy and Envoy routing both ways. */
  readyInMs: number;
  /** `docker compose down -v`, as the demo's users end it, then the service image; the stack's stop() too. */
  down(): Promise<void>;
}

/** Brings the demo up under `project` and resolves once it is ready (readyInMs). */
export async function startComposeDemo(project: string): Promise<ComposeDemo> {
  const dir = mkdtempSync(join(tmpdir(), 'kratos-ext-authz-compose-'));
  const override = join(dir, 'test-override.yml');
  const buildImage = offlineBuildImage(ROOT);
  writeFileSync(
    override,
    overrideFile(project, (await dockerExitCode('image', 'inspect', buildImage)) === 0 ? buildImage : undefined),
  );
  const compose = (...args: string[]) => docker('compose', '-p', project, '-f', COMPOSE_FILE, '-f', override, ...args);
  const logs = new Map<string, string[]>();
  const followers: ChildProcess[] = [];
  const down = async (): Promise<void> => {
    for (const follower of followers.splice(0)) follower.kill();
    await compose('down', '-v', '--remove-orphans', '--timeout', '20');
    // Not `down --rmi all`: that would remove the node, Envoy and Kratos images too.
    await dockerExitCode('image', 'rm', serviceImage(project));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const started = performance.now();
    // --pull never: the images are here (scripts/container-images.sh), none comes from a registry.
    await compose('up', '--build', '--detach', '--pull', 'never', '--wait', '--wait-timeout', String(WAIT_SECONDS));
    for (const service of (await compose('config', '--services')).split('\n')) {
      const lines: string[] = [];
      logs.set(service, lines);
      // prettier-ignore
      const follower = spawn('docker', ['compose', '-p', project, '-f', COMPOSE_FILE, '-f', override, 'logs', '--follow', '--no-color', '--no-log-prefix', service], { stdio: ['ignore', 'pipe', 'ignore'] });
      let partial = '';
      follower.stdout.on('data', (chunk: Buffer) => {
        const split = (partial + chunk.toString()).split('\n');
        partial = split.pop() ?? '';
        lines.push(...split.filter((line) => line !== ''));
      });
      followers.push(follower);
    }
    const published = async (service: keyof typeof PUBLISHED) =>
      `http://${await compose('port', service, String(PUBLISHED[service]))}`;
    const baseUrl = await published('envoy');
    // --wait knows nothing of Envoy, which resolves its STRICT_DNS clusters after it started:
    // ready once the Kratos route (no ext_authz) and an anonymous app route (ext_authz) answer.
    await pollUntilOk(`${baseUrl}/self-service/login/api`, WAIT_SECONDS * 1000, undefined, 500);
    await pollUntilOk(`${baseUrl}/health`, WAIT_SECONDS * 1000, undefined, 500);
    const readyInMs = performance.now() - started;
    return {
      description: `docker compose -p ${project} (envoy/docker-compose.yml)`,
      project,
      readyInMs,
      baseUrl,
      browserUrl: browserUrl(),
      kratosAdminUrl: await published('kratos'),
      extAuthzOpsUrl: await published('ext-authz'),
      logs,
      stopExtAuthz: async (graceMs) => {
        const container = await compose('ps', '--all', '--quiet', 'ext-authz');
        await compose('stop', '--timeout', String(Math.ceil(graceMs / 1000)), 'ext-authz');
        return Number(await docker('inspect', '-f', '{{.State.ExitCode}}', container));
      },
      stop: down,
      down,
    };
  } catch (error) {
    const reason = error instanceof Error ? error : new Error(String(error));
    await compose('logs', '--no-color', '--tail', '40')
      .then((tail) => (reason.message += `\n${tail}`))
      .catch(() => undefined);
    await down().catch(() => undefined);
    throw reason;
  }
}
