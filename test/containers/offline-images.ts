/**
 * What testcontainers needs where no registry is reachable and scripts/container-images.sh has
 * built the images: the Dockerfile's BUILD_IMAGE (npm offline), and no Ryuk reaper unless its
 * image is here. Where the images are not here, nothing changes: the registry is used.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageName, type ContainerRuntimeClient } from 'testcontainers';

// testcontainers' own default (reaper/reaper.js), unless RYUK_CONTAINER_IMAGE names another.
const RYUK_IMAGE = process.env.RYUK_CONTAINER_IMAGE ?? 'testcontainers/ryuk:0.14.0';

/** The tag scripts/container-images.sh gives the build image: named by the lockfile's sha256. */
export function offlineBuildImage(root: string): string {
  return `kratos-ext-authz-build:${createHash('sha256')
    .update(readFileSync(join(root, 'package-lock.json')))
    .digest('hex')
    .slice(0, 16)}`;
}

/** The Dockerfile's build args: BUILD_IMAGE when the daemon has the offline build image, else none. */
export async function dockerfileBuildArgs(
  client: ContainerRuntimeClient,
  root: string,
): Promise<Record<string, string>> {
  const image = offlineBuildImage(root);
  return (await client.image.exists(ImageName.fromString(image))) ? { BUILD_IMAGE: image } : {};
}

/**
 * Ryuk removes a dead test run's containers; its image cannot be pulled here, so without it the
 * stacks' own stop() is what cleans up. An explicit TESTCONTAINERS_RYUK_DISABLED is kept.
 */
export async function disableRyukWithoutItsImage(client: ContainerRuntimeClient): Promise<void> {
  if (process.env.TESTCONTAINERS_RYUK_DISABLED !== undefined) return;
  if (!(await client.image.exists(ImageName.fromString(RYUK_IMAGE)))) process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
}
