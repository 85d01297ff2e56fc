import { existsSync } from 'node:fs';
import { getContainerRuntimeClient, type ContainerRuntimeClient } from 'testcontainers';

export type Runtime = { available: true; client: ContainerRuntimeClient } | { available: false; reason: string };

/** Asks testcontainers for a Docker-compatible runtime once; never throws. */
export async function detectContainerRuntime(): Promise<Runtime> {
  try {
    return { available: true, client: await getContainerRuntimeClient() };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const where = process.env.DOCKER_HOST
      ? `DOCKER_HOST=${process.env.DOCKER_HOST}`
      : existsSync('/var/run/docker.sock')
        ? '/var/run/docker.sock present'
        : 'DOCKER_HOST unset, no /var/run/docker.sock';
    return { available: false, reason: `${why} (${where})` };
  }
}
