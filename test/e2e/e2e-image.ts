// The product image the container stack runs, built from the Dockerfile once per source tree:
// tagged kratos-ext-authz:e2e-<hash of the build context>, so every test (and every later run on
// the same sources) reuses it, and a changed source builds a new one. Test processes running side
// by side build it once between them (a lock directory); older e2e tags are removed after a build.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { GenericContainer, ImageName, type ContainerRuntimeClient } from 'testcontainers';
import { disableRyukWithoutItsImage, dockerfileBuildArgs } from '../containers/offline-images';

const REPOSITORY = 'kratos-ext-authz';
const TAG_PREFIX = 'e2e-';

/** What the Dockerfile's build sees (its .dockerignore allows these), in a stable order. */
function buildContextFiles(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.name.endsWith('.test.ts') || entry.name === '.DS_Store' ? [] : [path];
    });
  const top = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json'].map((name) =>
    join(root, name),
  );
  return [...top, ...walk(join(root, 'src')), ...walk(join(root, 'proto'))].sort();
}

export function e2eImageTag(root: string): string {
  const hash = createHash('sha256');
  for (const file of buildContextFiles(root))
    hash
      .update(`${relative(root, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  return `${REPOSITORY}:${TAG_PREFIX}${hash.digest('hex').slice(0, 16)}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether the process that wrote `pidFile` is gone (its lock is stale). */
function holderGone(pidFile: string): boolean {
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 0);
    return false;
  } catch {
    return true;
  }
}

/** Runs `body` while holding the lock directory `dir` (one holder across processes). */
async function underLock<T>(dir: string, body: () => Promise<T>): Promise<T> {
  const pidFile = join(dir, 'pid');
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(pidFile, String(process.pid));
      break;
    } catch {
      // Held by another test process: wait for it, unless it died holding the lock.
      await sleep(1_000);
      if (holderGone(pidFile)) rmSync(dir, { recursive: true, force: true });
    }
  }
  try {
    return await body();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The tag of the product image for the sources under `root`, built first if the daemon lacks it. */
export async function e2eImage(client: ContainerRuntimeClient, root: string): Promise<string> {
  const tag = e2eImageTag(root);
  const present = (): Promise<boolean> => client.image.exists(ImageName.fromString(tag));
  if (await present()) return tag;
  return underLock(join(tmpdir(), `kratos-ext-authz-${tag.replace(/[:/]/g, '-')}.lock`), async () => {
    if (await present()) return tag;
    const started = Date.now();
    // build() starts the reaper first, unless turned off.
    await disableRyukWithoutItsImage(client);
    await GenericContainer.fromDockerfile(root)
      .withBuildkit()
      .withBuildArgs(await dockerfileBuildArgs(client, root))
      .build(tag, { deleteOnExit: false });
    process.stderr.write(`e2e image: built ${tag} in ${Math.round((Date.now() - started) / 1000)}s\n`);
    await removeOtherE2eTags(client, tag);
    return tag;
  });
}

/** Older e2e images (other source trees); one still in use stays. */
async function removeOtherE2eTags(client: ContainerRuntimeClient, keep: string): Promise<void> {
  const images = await client.container.dockerode.listImages({
    filters: { reference: [`${REPOSITORY}:${TAG_PREFIX}*`] },
  });
  const stale = images
    .flatMap((image) => image.RepoTags ?? [])
    .filter((tag) => tag !== keep && tag.startsWith(`${REPOSITORY}:${TAG_PREFIX}`));
  for (const tag of stale)
    await client.container.dockerode
      .getImage(tag)
      .remove()
      .catch(() => undefined);
}
