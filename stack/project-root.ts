import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Walks up to kratos-ext-authz's package.json, so the same paths work from the sources and from dist/. */
function findProjectRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'kratos-ext-authz'
    )
      return dir;
    if (dirname(dir) === dir) throw new Error(`package.json of kratos-ext-authz not found above ${__dirname}`);
  }
}

export const projectRoot = findProjectRoot();
