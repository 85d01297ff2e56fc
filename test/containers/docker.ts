/** The Docker CLI, as the container tests drive it: the same commands an operator would type. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The product image scripts/container-images.sh builds (`npm run docker:build` tags the same). */
export const PRODUCT_IMAGE = 'kratos-ext-authz:dev';

/** Runs `docker args` and resolves its stdout, trimmed; rejects with its stderr on a non-zero exit. */
export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** Resolves the exit code of `docker args` (0 on success), for commands expected to fail. */
export async function dockerExitCode(...args: string[]): Promise<number> {
  try {
    await run('docker', args);
    return 0;
  } catch (error) {
    const { code } = error as { code?: unknown };
    if (typeof code !== 'number') throw error;
    return code;
  }
}

/** Why the container tests cannot run here, or undefined when a daemon answers and the image exists. */
export async function missingRuntime(): Promise<string | undefined> {
  if ((await dockerExitCode('info')) !== 0) return 'no Docker daemon answers (docker info)';
  if ((await dockerExitCode('image', 'inspect', PRODUCT_IMAGE)) !== 0)
    return `no ${PRODUCT_IMAGE} image: run scripts/container-images.sh`;
  return undefined;
}

/** One field of `docker inspect`, by Go template. */
export function inspect(container: string, template: string): Promise<string> {
  return docker('inspect', '-f', template, container);
}
